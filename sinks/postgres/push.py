"""The push sender's tables: push_deliveries, the bell's push status, token retirement, push_retries,
and when FCM first accepted a push of each urgent alert (``alerts.first_accepted_at``).

``PushSink.write`` runs once per batch in one transaction (checkpoint step 1), idempotent on natural
keys: a (notification, token) row never goes back from ``sent``; the bell keeps its first ``pushed_at``;
retiring a retired token changes nothing; a retry row is replaced only by a later attempt; an alert's
``first_accepted_at``, once set, never moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from sqlalchemy import Engine, text

from sinks.postgres.bulk import copy_insert
from sinks.postgres.engine import raw_connection
from sinks.postgres.tokens import count_failures, retire_tokens

DELIVERY_COLUMNS = (
    "notification_id",
    "token",
    "user_id",
    "status",
    "fcm_message_id",
    "error_code",
    "attempts",
    "updated_at",
    "occurred_at",
)
# The key includes the push request's occurred_at, the partition key (migration 0010; decision 0230): a
# retry or redelivery of a request carries the same one, so it finds its row in the same partition.
_DELIVERY_CONFLICT = (
    "(notification_id, token, occurred_at) DO UPDATE SET status = EXCLUDED.status, "
    "fcm_message_id = COALESCE(EXCLUDED.fcm_message_id, push_deliveries.fcm_message_id), "
    "error_code = EXCLUDED.error_code, attempts = GREATEST(push_deliveries.attempts, EXCLUDED.attempts), "
    "updated_at = EXCLUDED.updated_at WHERE push_deliveries.status <> 'sent'"
)
# A bell row's push status moves forward only: pending/retrying/failed/no_devices may change, sent is final.
_OPEN_STATUSES = ("pending", "retrying", "failed", "no_devices")


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    notification_id: UUID
    token: str
    user_id: str
    status: str  # sent | retired | retrying | failed
    fcm_message_id: str | None
    error_code: str | None
    attempts: int
    occurred_at: datetime  # the push request's: the partition key


@dataclass(frozen=True, slots=True)
class RetryRow:
    """A request to put back on the push topic at ``due_at`` (``value`` is the encoded PushRequest)."""

    notification_id: UUID
    user_id: str
    attempt: int
    due_at: datetime
    first_failed_at: datetime
    last_error: str
    key: bytes | None
    value: bytes


@dataclass
class PushWrites:
    """Everything one batch of the push sender makes durable."""

    now: datetime
    deliveries: list[DeliveryRow] = field(default_factory=list)
    bell: dict[str, list[UUID]] = field(default_factory=dict)  # push_status -> notification ids
    retire: dict[str, list[str]] = field(default_factory=dict)  # reason (FCM code) -> tokens
    failed_tokens: list[str] = field(default_factory=list)
    recovered_tokens: list[str] = field(default_factory=list)
    retries: list[RetryRow] = field(default_factory=list)
    accepted_alerts: set[UUID] = field(default_factory=set)  # event ids of alerts FCM accepted a push of


class FirstAccepted(NamedTuple):
    """An alert whose first accepted push this batch recorded."""

    event_id: UUID
    event_type: str
    occurred_at: datetime
    accepted_at: datetime

    @property
    def seconds(self) -> float:
        """From the event to FCM's acceptance (0 when the producer's clock ran ahead)."""
        return max((self.accepted_at - self.occurred_at).total_seconds(), 0.0)


class PushSink:
    """Writes PushWrites; a raised error rolls everything back and aborts the checkpoint (batch redone).

    ``on_first_accepted`` hears of the alerts whose ``first_accepted_at`` this write set, after the
    transaction committed: a rolled-back write tells nothing, its redo finds the alerts unset again and
    tells then, and a write that found them set (a redo after the commit, another replica, a later
    step's push) tells nothing, so each alert is told once."""

    def __init__(self, engine: Engine, on_first_accepted: Callable[[list[FirstAccepted]], None] | None = None) -> None:
        self._engine = engine
        self._on_first_accepted = on_first_accepted

    def write(self, writes: PushWrites) -> None:
        with self._engine.begin() as conn:
            # The alerts rows first: the lock order of sinks/postgres/alerts.py (alerts, then user_notifications).
            first = mark_first_accepted(conn, writes.accepted_alerts, at=writes.now)
            self._deliveries(conn, writes)
            self._bell(conn, writes)
            retire_tokens(conn, writes.retire, now=writes.now)
            count_failures(conn, failed=writes.failed_tokens, recovered=writes.recovered_tokens)
            schedule_retries(conn, writes.retries)
        if first and self._on_first_accepted is not None:
            self._on_first_accepted(first)

    @staticmethod
    def _deliveries(conn, writes: PushWrites) -> None:
        if not writes.deliveries:
            return
        rows = [
            (
                d.notification_id,
                d.token,
                d.user_id,
                d.status,
                d.fcm_message_id,
                d.error_code,
                d.attempts,
                writes.now,
                d.occurred_at,
            )
            for d in writes.deliveries
        ]
        with raw_connection(conn).cursor() as cursor:
            copy_insert(
                cursor,
                "push_deliveries",
                DELIVERY_COLUMNS,
                rows,
                conflict=_DELIVERY_CONFLICT,
                order_by="notification_id, token, occurred_at",
            )

    @staticmethod
    def _bell(conn, writes: PushWrites) -> None:
        for status, ids in sorted(writes.bell.items()):
            if not ids:
                continue
            if status == "sent":
                conn.execute(
                    text(
                        "UPDATE user_notifications SET push_status = 'sent', pushed_at = COALESCE(pushed_at, :now) "
                        "WHERE notification_id = ANY(:ids) AND push_status <> 'sent'"
                    ),
                    {"now": writes.now, "ids": ids},
                )
            else:
                conn.execute(
                    text(
                        "UPDATE user_notifications SET push_status = :status "
                        "WHERE notification_id = ANY(:ids) AND push_status = ANY(:open)"
                    ),
                    {"status": status, "ids": ids, "open": list(_OPEN_STATUSES)},
                )


def mark_first_accepted(conn, event_ids: Iterable[UUID], *, at: datetime) -> list[FirstAccepted]:
    """Sets ``first_accepted_at`` of the alerts that have none yet; returns those it set. One statement per
    alert, in event id order, so two replicas recording the same alerts lock them in the same order; a
    replica that waited on another's lock finds the column set once that commits and updates nothing."""
    first = []
    for event_id in sorted(set(event_ids)):
        row = conn.execute(
            text(
                "UPDATE alerts SET first_accepted_at = :at WHERE event_id = :e AND first_accepted_at IS NULL "
                "RETURNING occurred_at, event_type"
            ),
            {"at": at, "e": event_id},
        ).first()
        if row is not None:
            first.append(FirstAccepted(event_id, row[1], row[0], at))
    return first


def sent_pairs(conn, notification_ids: list[UUID]) -> set[tuple[UUID, str]]:
    """The (notification, token) pairs already sent among ``notification_ids``: never send those again."""
    if not notification_ids:
        return set()
    rows = conn.execute(
        text(
            "SELECT notification_id, token FROM push_deliveries WHERE notification_id = ANY(:ids) AND status = 'sent'"
        ),
        {"ids": notification_ids},
    )
    return {(r[0], r[1]) for r in rows}


def schedule_retries(conn, retries: list[RetryRow]) -> None:
    """Parks requests until due; a row for the same notification is replaced only by a later attempt."""
    if not retries:
        return
    conn.execute(
        text(
            "INSERT INTO push_retries (notification_id, user_id, attempt, due_at, first_failed_at, last_error, record_key, record_value) "
            "VALUES (:notification_id, :user_id, :attempt, :due_at, :first_failed_at, :last_error, :key, :value) "
            "ON CONFLICT (notification_id) DO UPDATE SET attempt = EXCLUDED.attempt, due_at = EXCLUDED.due_at, "
            "last_error = EXCLUDED.last_error, record_key = EXCLUDED.record_key, record_value = EXCLUDED.record_value "
            "WHERE push_retries.attempt < EXCLUDED.attempt"
        ),
        [
            {
                "notification_id": r.notification_id,
                "user_id": r.user_id,
                "attempt": r.attempt,
                "due_at": r.due_at,
                "first_failed_at": r.first_failed_at,
                "last_error": r.last_error,
                "key": r.key,
                "value": r.value,
            }
            for r in retries
        ],
    )


def take_due_retries(conn, *, now: datetime, limit: int) -> list[RetryRow]:
    """Due rows, oldest first, locked for this transaction (SKIP LOCKED: sender replicas split them)."""
    rows = conn.execute(
        text(
            "SELECT notification_id, user_id, attempt, due_at, first_failed_at, last_error, record_key, record_value "
            "FROM push_retries WHERE due_at <= :now ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"now": now, "limit": limit},
    ).all()
    return [
        RetryRow(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]) if r[6] is not None else None, bytes(r[7]))
        for r in rows
    ]


def delete_retries(conn, rows: list[RetryRow]) -> None:
    """Removes rows that were put back on the topic (only the attempt that was taken)."""
    if rows:
        conn.execute(
            text("DELETE FROM push_retries WHERE notification_id = :id AND attempt = :attempt"),
            [{"id": row.notification_id, "attempt": row.attempt} for row in rows],
        )


def pending_retries(conn) -> int:
    return conn.execute(text("SELECT count(*) FROM push_retries")).scalar_one()
