"""The scheduler's queries on held_notifications: find due users, lock them, read and close their rows.

Many scheduler replicas may run at once: each due user is taken under a transaction-scoped
advisory lock (``pg_try_advisory_xact_lock``), so exactly one replica releases a user's held rows,
and it releases all of that user's due rows together (one digest per user).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Connection, text

_LOCK_SPACE = 7_301  # second key of the advisory lock, so other advisory-lock users don't collide


@dataclass(frozen=True, slots=True)
class HeldRecord:
    notification_id: UUID
    user_id: str
    organization_id: str
    event_type: str
    priority: str
    reason: str
    patient_id: str | None
    occurred_at: datetime
    release_at: datetime


def lock_due_users(conn: Connection, now: datetime, limit: int = 500) -> list[str]:
    """Users with held rows due at ``now`` that no other replica holds; locked until this transaction ends."""
    users = (
        conn.execute(
            text(
                "SELECT DISTINCT user_id FROM held_notifications WHERE released_at IS NULL AND release_at <= :now "
                "LIMIT :limit"
            ),
            {"now": now, "limit": limit},
        )
        .scalars()
        .all()
    )
    if not users:
        return []
    return list(
        conn.execute(
            text(
                "SELECT u FROM unnest(CAST(:users AS text[])) AS u WHERE pg_try_advisory_xact_lock(:space, hashtext(u))"
            ),
            {"users": list(users), "space": _LOCK_SPACE},
        )
        .scalars()
        .all()
    )


def due_rows(conn: Connection, user_ids: list[str], now: datetime) -> list[HeldRecord]:
    """The due, unreleased held rows of locked users."""
    rows = conn.execute(
        text(
            "SELECT notification_id, user_id, organization_id, event_type, priority, reason, patient_id, occurred_at, "
            "release_at FROM held_notifications WHERE user_id = ANY(:users) AND released_at IS NULL "
            "AND release_at <= :now FOR UPDATE"
        ),
        {"users": user_ids, "now": now},
    ).all()
    return [HeldRecord(*r) for r in rows]


def close_rows(conn: Connection, notification_ids: list[UUID], outcome: str, now: datetime) -> None:
    """Marks held rows released (``digest``) or ``dropped``, and their bell rows' push status alike."""
    if not notification_ids:
        return
    conn.execute(
        text("UPDATE held_notifications SET released_at = :now, outcome = :outcome WHERE notification_id = ANY(:ids)"),
        {"now": now, "outcome": outcome, "ids": notification_ids},
    )
    conn.execute(
        text(
            "UPDATE user_notifications SET push_status = :outcome WHERE notification_id = ANY(:ids) "
            "AND push_status = 'held'"
        ),
        {"outcome": outcome, "ids": notification_ids},
    )


def count_held(conn: Connection, now: datetime, overdue_after_s: float = 60.0) -> tuple[int, int]:
    """(held and unreleased, of those still unreleased ``overdue_after_s`` past their release time)."""
    return tuple(
        conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE release_at < :late) FROM held_notifications WHERE released_at IS NULL"
            ),
            {"late": now - timedelta(seconds=overdue_after_s)},
        ).one()
    )
