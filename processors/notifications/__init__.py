"""The notification domain: who is notified of an event, how and when, as pure functions and values.

No DB, no Kafka, no clock, no metrics: the processors (fan-out, scheduler, reconciler, push sender)
and the API load what these rules read, pass ``now``, and carry out what they return. Every ``now``
must be time-zone aware; a naive one is a programming error and raises ValueError.

Modules: ``directory`` (the directory slice a rule reads), ``recipients``, ``ids`` (natural keys of
notifications and digests), ``preferences``, ``quiet_hours``, ``decisions``, ``digests`` (held pushes
and their release) and ``plan`` (one fan-out batch as domain values; the sinks map them to rows).
"""
