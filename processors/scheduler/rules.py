"""Turning due held rows into one digest push per user (pure; the app loads and writes)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from processors.fanout.rules import Directory, Held, Preferences, default_preferences, still_wanted
from streams.messages import Priority, PushRequest

DIGEST_NAMESPACE = uuid.UUID("6c1d7f4e-7a0b-4e59-9a43-2f3f8f0c9d21")
DIGEST_EVENT_TYPE = "QUIET_HOURS_DIGEST"


@dataclass
class Release:
    digests: list[PushRequest] = field(default_factory=list)
    released: list[uuid.UUID] = field(default_factory=list)
    dropped: list[uuid.UUID] = field(default_factory=list)


def digest_id(user_id: str, held: list[Held]) -> uuid.UUID:
    """Deterministic over the set released, so a re-release after a crash collapses on the device
    and is de-duplicated by the sender."""
    return uuid.uuid5(DIGEST_NAMESPACE, user_id + ":" + ",".join(sorted(str(h.notification_id) for h in held)))


def release(groups: Mapping[str, list[Held]], directory: Directory, preferences: Mapping[str, Preferences],
            organization_of: Mapping[uuid.UUID, str], occurred_of: Mapping[uuid.UUID, datetime],
            now: datetime) -> Release:
    """For each user: the held rows still wanted become one digest; the others are dropped."""
    out = Release()
    for user_id, held in groups.items():
        user = directory.users.get(user_id)
        prefs = preferences.get(user_id) or default_preferences(user.timezone if user else None)
        wanted = [h for h in held if still_wanted(h, directory, prefs)]
        out.dropped += [h.notification_id for h in held if h not in wanted]
        if wanted:
            out.released += [h.notification_id for h in wanted]
            out.digests.append(_digest(user_id, wanted, organization_of, occurred_of, now))
    return out


def _digest(user_id: str, wanted: list[Held], organization_of, occurred_of, now: datetime) -> PushRequest:
    first = wanted[0].notification_id
    return PushRequest(
        notification_id=digest_id(user_id, wanted), user_id=user_id, organization_id=organization_of[first],
        event_type=DIGEST_EVENT_TYPE, priority=max((h.priority for h in wanted), key=lambda p: p.rank, default=Priority.NORMAL),
        occurred_at=min(occurred_of[h.notification_id] for h in wanted), requested_at=now, kind="digest",
        digest_count=len(wanted))
