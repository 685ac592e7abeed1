"""Held pushes and their release: when quiet hours end, the ones still wanted become one digest per user."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from processors.catalogue import RecipientRule
from processors.notifications.directory import Directory
from processors.notifications.ids import digest_id
from processors.notifications.preferences import Preferences, default_preferences
from streams.messages import Priority, PushRequest

DIGEST_EVENT_TYPE = "QUIET_HOURS_DIGEST"


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
    return (
        prefs.push_enabled
        and held.event_type in prefs.enabled_types
        and held.priority.rank >= prefs.min_push_priority.rank
    )


def digest_text(count: int) -> tuple[str, str]:
    """The PHI-free title and body of the one digest push that releases ``count`` held pushes."""
    if count < 1:
        raise ValueError(f"a digest needs at least one update, got {count}")
    noun = "update" if count == 1 else "updates"
    return f"{count} {noun}", f"{count} {noun} while quiet hours were on"


@dataclass
class Release:
    """One release pass: the digest pushes, and the held rows they release or drop."""

    digests: list[PushRequest] = field(default_factory=list)
    released: list[uuid.UUID] = field(default_factory=list)
    dropped: list[uuid.UUID] = field(default_factory=list)


def release(
    groups: Mapping[str, list[Held]],
    directory: Directory,
    preferences: Mapping[str, Preferences],
    organization_of: Mapping[uuid.UUID, str],
    occurred_of: Mapping[uuid.UUID, datetime],
    now: datetime,
) -> Release:
    """For each user: the held rows still wanted become one digest; the others are dropped."""
    out = Release()
    for user_id, held in groups.items():
        prefs = preferences.get(user_id) or default_preferences(directory.zone_of(user_id))
        wanted = [h for h in held if still_wanted(h, directory, prefs)]
        out.dropped += [h.notification_id for h in held if h not in wanted]
        if wanted:
            out.released += [h.notification_id for h in wanted]
            out.digests.append(_digest(user_id, wanted, organization_of, occurred_of, now))
    return out


def _digest(
    user_id: str,
    wanted: list[Held],
    organization_of: Mapping[uuid.UUID, str],
    occurred_of: Mapping[uuid.UUID, datetime],
    now: datetime,
) -> PushRequest:
    first = wanted[0].notification_id
    return PushRequest(
        notification_id=digest_id(user_id, wanted),
        user_id=user_id,
        organization_id=organization_of[first],
        event_type=DIGEST_EVENT_TYPE,
        priority=max((h.priority for h in wanted), key=lambda p: p.rank, default=Priority.NORMAL),
        occurred_at=min(occurred_of[h.notification_id] for h in wanted),
        requested_at=now,
        kind="digest",
        digest_count=len(wanted),
    )
