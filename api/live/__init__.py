"""Live updates of the bell and the feed over server-sent events (docs/api.md, "Live updates").

``positions`` is the pure part (event ids, resuming, windows); ``changes`` reads ``live_changes``;
``hub`` is the one listening connection and polling task of a process, which hands changes to the
connected streams; ``events`` turns rows into the events a stream sends.
"""
