"""The fan-out's writes: the event row marked as fanned out, bell rows and held rows, one transaction.

Every write is idempotent: bell and held rows have natural keys (uuid5(event_id, user_id)); the
event row is upserted so the fan-out may see an event before the persister does (the persister's
later insert then does nothing) and ``notification_sent_at`` is set once, never moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import Engine

from processors.notifications.bell import BellNotification, HeldNotification
from processors.notifications.decisions import PushAction
from processors.notifications.plan import RaisedAlert
from sinks.postgres.activity import COLUMNS as EVENT_COLUMNS
from sinks.postgres.activity import ActivityRow, check_fanned_out_events
from sinks.postgres.alerts import write_raised_alerts
from sinks.postgres.bulk import copy_insert, copy_new_rows
from sinks.postgres.engine import raw_connection

BELL_COLUMNS = (
    "notification_id",
    "user_id",
    "organization_id",
    "event_id",
    "event_type",
    "priority",
    "reason",
    "patient_id",
    "resource_type",
    "resource_id",
    "occurred_at",
    "push_status",
    "alert_step",
)
HELD_COLUMNS = (
    "notification_id",
    "user_id",
    "organization_id",
    "event_id",
    "event_type",
    "priority",
    "reason",
    "patient_id",
    "occurred_at",
    "release_at",
)

# push_status of a bell row, by what the fan-out decided for its push.
_STATUS = {PushAction.NONE: "none", PushAction.NOW: "pending", PushAction.HOLD: "held"}


def bell_rows(bell: Iterable[BellNotification]) -> list[tuple]:
    """user_notifications rows in BELL_COLUMNS order: one plain tuple per notification, which COPY
    takes as it is (an announcement maps 10,000 here, so unpacked, not read by attribute)."""
    return [
        (
            nid,
            user_id,
            e.organization_id,
            e.event_id,
            e.event_type,
            priority.value,
            reason.value,
            e.patient_id,
            e.resource_type,
            e.resource_id,
            e.occurred_at,
            _STATUS[push],
            alert_step,
        )
        for nid, user_id, reason, push, e, priority, alert_step in bell
    ]


def held_rows(held: Iterable[HeldNotification]) -> list[tuple]:
    """held_notifications rows in HELD_COLUMNS order."""
    return [
        (
            nid,
            user_id,
            e.organization_id,
            e.event_id,
            e.event_type,
            priority.value,
            reason.value,
            e.patient_id,
            e.occurred_at,
            release_at,
        )
        for nid, user_id, reason, e, priority, release_at in held
    ]


@dataclass
class FanoutWrites:
    """What one fan-out batch writes to Postgres: ``events``, the activity rows to mark as fanned out,
    each once (DO UPDATE cannot touch a row twice in one statement); the bell and held notifications
    as the plan made them (mapped to rows here)."""

    events: list[ActivityRow] = field(default_factory=list)
    bell: list[BellNotification] = field(default_factory=list)
    held: list[HeldNotification] = field(default_factory=list)
    alerts: list[RaisedAlert] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events) + len(self.bell) + len(self.held) + len(self.alerts)


_MARKED_COLUMNS = EVENT_COLUMNS + ("notification_sent_at",)
_MARK = (  # the primary key of the partitioned table (migration 0009; decision 0230)
    "(event_id, occurred_at) DO UPDATE SET notification_sent_at = "
    "COALESCE(activity_events.notification_sent_at, EXCLUDED.notification_sent_at)"
)


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
        copy_new_rows(
            cur,
            "user_notifications",
            BELL_COLUMNS,
            bell_rows(batch.bell),
            key="notification_id",
            conflict="DO NOTHING",  # the key is (notification_id, occurred_at): see activity._CONFLICT
        )
    if batch.held:
        copy_new_rows(
            cur,
            "held_notifications",
            HELD_COLUMNS,
            held_rows(batch.held),
            key="notification_id",
            conflict="(notification_id) DO NOTHING",
        )
    if batch.alerts:
        write_raised_alerts(cur, batch.alerts)
    if batch.events:  # last: the mark says "fan-out done" only with the rows above
        now = datetime.now(timezone.utc)
        copy_insert(
            cur,
            "activity_events",
            _MARKED_COLUMNS,
            [e + (now,) for e in batch.events],
            conflict=_MARK,
            order_by="event_id",
        )
        check_fanned_out_events(cur)  # another version committed meanwhile: roll back, the redo leaves it out
