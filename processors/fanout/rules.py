"""Pure rules of the fan-out: who is notified, how, and when held pushes are released.

No DB, no Kafka, no clock: callers load the directory and preferences and pass ``now``.
Every ``now`` must be time-zone aware; a naive one is a programming error and raises ValueError.

Quiet hours. A window is ``quiet_hours_start``-``quiet_hours_end`` in the user's IANA zone (UTC when
unset or unknown), may cross midnight, and is off when either bound is missing or start == end. Each
night's window is one contiguous interval of real time whose bounds are the wall times resolved on
that night's dates: a wall time in a spring-forward gap resolves to the first valid instant after the
gap (the transition itself); one in a fall-back fold resolves to its first occurrence (fold=0). So the
window never lasts longer than its wall-clock span plus the DST shift, and a second pass through a fold
does not reopen a window that already ended.
"""
from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from processors.catalogue import (
    ANNOUNCEMENT_URGENT, DEFAULT_ENABLED_TYPES, RecipientRule, effective_priority, lookup,
)
from streams.messages import ActivityEvent, DirectoryChange, Priority

__all__ = [
    "DEFAULT_ENABLED_TYPES", "Decision", "Directory", "DirectoryUser", "Held", "Preferences", "PushAction",
    "Recipient", "decide", "default_preferences", "digest_text", "due", "in_quiet_hours",
    "notification_id", "release_at", "resolve_recipients", "still_wanted",
]


# --- directory --------------------------------------------------------------------------------------

class DirectoryUser(NamedTuple):
    """A user as the directory topic last described them (a named tuple: the fan-out builds 10,000 of
    them for an organization-wide event)."""

    user_id: str
    organization_id: str
    roles: frozenset[str] = frozenset()
    active: bool = True
    timezone: str | None = None
    supervisor_user_id: str | None = None

    def is_active_member_of(self, organization_id: str) -> bool:
        return self.active and self.organization_id == organization_id


@dataclass(frozen=True, slots=True)
class Directory:
    """The slice of the directory a rule needs: users by id, and patient_id -> active care-team user ids."""

    users: Mapping[str, DirectoryUser] = field(default_factory=dict)
    care_teams: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, users: Iterable[DirectoryUser] = (),
           care_team: Iterable[tuple[str, str]] = ()) -> "Directory":
        """Builds a directory from users and active (patient_id, user_id) memberships."""
        teams: dict[str, set[str]] = {}
        for patient_id, user_id in care_team:
            teams.setdefault(patient_id, set()).add(user_id)
        return cls({u.user_id: u for u in users}, {p: frozenset(m) for p, m in teams.items()})

    @classmethod
    def from_changes(cls, changes: Iterable[DirectoryChange]) -> "Directory":
        """Replays directory records in order, the last one per key winning (as the compacted topic does)."""
        users: dict[str, DirectoryUser] = {}
        members: dict[tuple[str, str], bool] = {}
        for c in changes:
            if c.entity == "user":
                users[c.user_id] = DirectoryUser(c.user_id, c.organization_id, frozenset(c.roles), c.active,
                                                 c.timezone, c.supervisor_user_id)
            else:
                members[(c.patient_id, c.user_id)] = c.active
        return cls.of(users.values(), [key for key, active in members.items() if active])

    def care_team_of(self, patient_id: str | None) -> frozenset[str]:
        return self.care_teams.get(patient_id, frozenset()) if patient_id else frozenset()


# --- recipients -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Recipient:
    """One user to notify of one event, and the rule that chose them."""

    user_id: str
    reason: RecipientRule


def _candidates(rule: RecipientRule, event: ActivityEvent, directory: Directory) -> Iterable[str]:
    if rule == RecipientRule.PRACTITIONER:
        return [event.practitioner_user_id] if event.practitioner_user_id else []
    if rule == RecipientRule.CARE_TEAM:
        return directory.care_team_of(event.patient_id)
    if rule == RecipientRule.ORGANIZATION:
        return [u.user_id for u in directory.users.values() if u.organization_id == event.organization_id]
    return []


def resolve_recipients(event: ActivityEvent, directory: Directory) -> list[Recipient]:
    """Called by the fan-out once per event: the active users of the event's organization its rule names.

    Empty for notify=False, rule "none" and unknown types. The actor is never a recipient; a user
    unknown to the directory, inactive or of another organization is skipped. Sorted by user_id.
    """
    entry = lookup(event.event_type)
    if not event.notify or not entry.known:
        return []
    chosen = {
        user_id for user_id in _candidates(entry.recipients, event, directory)
        if user_id != event.actor_user_id
        and (user := directory.users.get(user_id)) is not None
        and user.is_active_member_of(event.organization_id)
    }
    return [Recipient(user_id, entry.recipients) for user_id in sorted(chosen)]


_UUID5_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID5_SET = (0x8000 << 48) | (5 << 76)


def notification_id(event_id: uuid.UUID, user_id: str, *, namespace: bytes | None = None) -> uuid.UUID:
    """The natural key of one (event, recipient) notification: uuid5 with the event id as namespace,
    exactly ``uuid.uuid5(event_id, user_id)``. Computed here for every recipient (10,000 for an
    announcement), so without uuid5's per-call import and bytes→UUID checks (about half the cost;
    docs/decisions/0036-hot-path-shortcuts.md); pass ``namespace=event_id.bytes`` to compute it once per event."""
    digest = hashlib.sha1((namespace or event_id.bytes) + user_id.encode()).digest()
    return uuid.UUID(int=(int.from_bytes(digest[:16], "big") & _UUID5_CLEAR) | _UUID5_SET)


# --- preferences and decisions ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Preferences:
    """A user's notification preferences; the defaults are a new user's (see ``default_preferences``)."""

    push_enabled: bool = True
    email_enabled: bool = False
    enabled_types: frozenset[str] = DEFAULT_ENABLED_TYPES
    min_push_priority: Priority = Priority.HIGH
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    timezone: str | None = None


@functools.lru_cache(maxsize=1024)
def default_preferences(timezone: str | None = None) -> Preferences:
    """Used for a user with no stored preferences: push for HIGH and URGENT, common clinical types on,
    quiet hours off, in ``timezone`` (the directory's, when known). One shared value per zone."""
    return Preferences(timezone=timezone)


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


# --- quiet hours ------------------------------------------------------------------------------------

def _zone(name: str | None) -> ZoneInfo:
    # An unknown zone must not crash-loop the fan-out on one bad row; the API validates on write.
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _transition(before: int, after: int, zone: ZoneInfo) -> int:
    """The first second at or after which ``zone`` uses the offset it has at ``after`` (binary search)."""
    offset_after = datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``wall`` on ``day`` in ``zone``: first occurrence in a fold, gap end in a gap."""
    first = datetime.combine(day, wall, zone).astimezone(timezone.utc)  # fold=0
    if first.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, wall):
        return first
    # In a gap, fold=0 applies the offset in force before the transition and lands after the gap;
    # fold=1 applies the later offset and lands before it. The transition lies between the two.
    before = datetime.combine(day, wall, zone).replace(fold=1).astimezone(timezone.utc)
    return datetime.fromtimestamp(_transition(int(before.timestamp()), int(first.timestamp()), zone),
                                  timezone.utc)


def _window_containing(now: datetime, prefs: Preferences) -> tuple[datetime, datetime] | None:
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    start, end = prefs.quiet_hours_start, prefs.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    zone = _zone(prefs.timezone)
    today = now.astimezone(zone).date()
    for first_day in (today - timedelta(days=1), today):
        last_day = first_day + timedelta(days=1) if end < start else first_day
        opens, closes = _instant(first_day, start, zone), _instant(last_day, end, zone)
        if opens <= now < closes:
            return opens, closes
    return None


def release_at(now: datetime, prefs: Preferences) -> datetime | None:
    """Called when a LOW/NORMAL push is due: None outside quiet hours, else the UTC end of the window."""
    window = _window_containing(now, prefs)
    return window[1] if window else None


def in_quiet_hours(now: datetime, prefs: Preferences) -> bool:
    """Whether ``now`` falls inside the user's quiet-hours window."""
    return _window_containing(now, prefs) is not None


# --- scheduler --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Held:
    """A push held for quiet hours (a ``held_notifications`` row)."""

    notification_id: uuid.UUID
    user_id: str
    event_type: str
    priority: Priority
    release_at: datetime
    reason: str
    patient_id: str | None = None


def due(now: datetime, held: Iterable[Held]) -> dict[str, list[Held]]:
    """Called by the scheduler each tick: the held rows with release_at <= now, grouped by user,
    each group ordered by release_at then notification id (one digest push per user)."""
    groups: dict[str, list[Held]] = {}
    for row in sorted(held, key=lambda h: (h.user_id, h.release_at, str(h.notification_id))):
        if row.release_at <= now:
            groups.setdefault(row.user_id, []).append(row)
    return groups


def still_wanted(held: Held, directory: Directory, prefs: Preferences) -> bool:
    """Called at release: False when the user left (inactive), left the patient's care team (reason
    care_team), or no longer wants this push (push off, type disabled, priority under their minimum).
    A False row is dropped from the digest; its bell row stays."""
    user = directory.users.get(held.user_id)
    if user is None or not user.active:
        return False
    if held.reason == RecipientRule.CARE_TEAM and held.user_id not in directory.care_team_of(held.patient_id):
        return False
    return (prefs.push_enabled and held.event_type in prefs.enabled_types
            and held.priority.rank >= prefs.min_push_priority.rank)


def digest_text(count: int) -> tuple[str, str]:
    """The PHI-free title and body of the one digest push that releases ``count`` held pushes."""
    if count < 1:
        raise ValueError(f"a digest needs at least one update, got {count}")
    noun = "update" if count == 1 else "updates"
    return f"{count} {noun}", f"{count} {noun} while quiet hours were on"
