"""What the fan-out does for one recipient: a bell row or not, and a push now, held, or none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from processors.catalogue import ANNOUNCEMENT_URGENT, effective_priority
from processors.notifications.preferences import Preferences
from processors.notifications.quiet_hours import release_at
from processors.notifications.recipients import Recipient
from streams.messages import ActivityEvent, Priority


class PushAction(StrEnum):
    NONE = "NONE"
    NOW = "NOW"
    HOLD = "HOLD"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the fan-out does for one recipient: a bell row or not, a push now, held, or none."""

    in_app: bool
    push: PushAction
    release_at: datetime | None = None


# The decisions without a release time, shared (decide runs once per recipient).
_PUSH_NOW = Decision(True, PushAction.NOW)
_BELL_ONLY = Decision(True, PushAction.NONE)
_NOTHING = Decision(False, PushAction.NONE)


def decide(event: ActivityEvent, recipient: Recipient, prefs: Preferences, now: datetime) -> Decision:
    """Called once per resolved recipient. ``release_at`` is set (UTC) only for HOLD.

    ANNOUNCEMENT_URGENT ignores type preferences and quiet hours and obeys only ``push_enabled``.
    Otherwise a push needs push on, the type enabled and the effective priority at least the user's
    minimum; during quiet hours LOW and NORMAL pushes are held until the window ends.
    ``recipient`` is not consulted by today's rules; it is passed so the rule sees the whole pair.
    """
    if event.event_type == ANNOUNCEMENT_URGENT:
        return _PUSH_NOW if prefs.push_enabled else _BELL_ONLY
    enabled = event.event_type in prefs.enabled_types
    priority = effective_priority(event)
    if not (enabled and prefs.push_enabled and priority.rank >= prefs.min_push_priority.rank):
        return _BELL_ONLY if enabled else _NOTHING
    until = release_at(now, prefs) if priority.rank < Priority.HIGH.rank else None
    if until is not None:
        return Decision(True, PushAction.HOLD, until)
    return _PUSH_NOW
