"""The edges the processors that notify share: loading what the notification rules read, writing and
producing what their plans say, and counting it.

The rules themselves are pure (``processors.notifications``); the fan-out, scheduler and reconciler
import them and these edges, never one another.
"""
