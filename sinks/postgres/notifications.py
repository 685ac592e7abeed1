"""The fan-out's writes: the event row marked as fanned out, bell rows and held rows, one transaction.

Every write is idempotent: bell and held rows have natural keys (uuid5(event_id, user_id)); the
event row is upserted so the fan-out may see an event before the persister does (the persister's
later insert then does nothing) and ``notification_sent_at`` is set once, never moved.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple
from uuid import UUID

from sqlalchemy import Engine

from sinks.postgres.activity import COLUMNS as EVENT_COLUMNS, ActivityRow, check_fanned_out_events
from sinks.postgres.bulk import copy_insert, copy_new_rows
from sinks.postgres.engine import raw_connection

class BellRow(NamedTuple):
    """One user_notifications row, in BELL_COLUMNS order (a tuple: COPY takes it as it is; build many
    with ``BellRow._make(values)``, which skips the keyword-argument constructor)."""

    notification_id: UUID
    user_id: str
    organization_id: str
    event_id: UUID
    event_type: str
    priority: str
    reason: str
    patient_id: str | None
    resource_type: str | None
    resource_id: str | None
    occurred_at: datetime
    push_status: str  # none | pending | held


class HeldRow(NamedTuple):
    """One held_notifications row, in HELD_COLUMNS order."""

    notification_id: UUID
    user_id: str
    organization_id: str
    event_id: UUID
    event_type: str
    priority: str
    reason: str
    patient_id: str | None
    occurred_at: datetime
    release_at: datetime


BELL_COLUMNS = BellRow._fields
HELD_COLUMNS = HeldRow._fields


@dataclass
class FanoutWrites:
    """What one fan-out batch writes to Postgres; ``events`` holds each event once (DO UPDATE
    cannot touch a row twice in one statement)."""

    events: list[ActivityRow] = field(default_factory=list)
    bell: list[BellRow] = field(default_factory=list)
    held: list[HeldRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events) + len(self.bell) + len(self.held)


_MARKED_COLUMNS = EVENT_COLUMNS + ("notification_sent_at",)
_MARK = ("(event_id) DO UPDATE SET notification_sent_at = "
         "COALESCE(activity_events.notification_sent_at, EXCLUDED.notification_sent_at)")


class NotificationSink:
    """Writes FanoutWrites in one transaction; raising rolls it back and aborts the checkpoint."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write(self, batch: FanoutWrites) -> None:
        with self._engine.begin() as connection, raw_connection(connection).cursor() as cur:
            write_rows(cur, batch)


def write_rows(cur, batch: FanoutWrites) -> None:
    """The writes of one batch inside the caller's transaction (the reconciler holds row locks in it)."""
    if batch.bell:
        copy_new_rows(cur, "user_notifications", BELL_COLUMNS, batch.bell, key="notification_id",
                      conflict="(notification_id) DO NOTHING")
    if batch.held:
        copy_new_rows(cur, "held_notifications", HELD_COLUMNS, batch.held, key="notification_id",
                      conflict="(notification_id) DO NOTHING")
    if batch.events:  # last: the mark says "fan-out done" only with the rows above
        now = datetime.now(timezone.utc)
        copy_insert(cur, "activity_events", _MARKED_COLUMNS, [e + (now,) for e in batch.events],
                    conflict=_MARK, order_by="event_id")
        check_fanned_out_events(cur)  # another version committed meanwhile: roll back, the redo leaves it out

