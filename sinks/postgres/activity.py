"""The activity_events sink: one transaction per batch, idempotent on event_id.

Three write strategies, measured by ``bench/persist.py`` (figures in the README), all in
``sinks/postgres/bulk.py``:
* ``copy`` (default): look the batch's event ids up, COPY the new rows straight into activity_events;
* ``staging``: COPY into a per-connection temp staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING;
* ``executemany``: psycopg 3's pipelined executemany of INSERT … ON CONFLICT DO NOTHING.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import Engine

from sinks.postgres.bulk import copy_insert, copy_new_rows, executemany_insert, in_key_order
from sinks.postgres.engine import raw_connection

COLUMNS = (
    "event_id", "event_type", "priority", "occurred_at", "organization_id", "actor_user_id", "patient_id",
    "encounter_id", "resource_type", "resource_id", "practitioner_user_id", "title", "description", "notify",
    "visibility", "attributes", "source",
)
_CONFLICT = "(event_id) DO NOTHING"


# One activity_events row as the persister decided it: a plain tuple in COLUMNS order, ``attributes``
# a psycopg Jsonb. COPY takes it as it is; building one per event is the persister's hot path.
ActivityRow = tuple


class ActivityEventSink:
    """Writes ActivityRows; a raised error rolls the transaction back and aborts the checkpoint."""

    def __init__(self, engine: Engine, strategy: str = "copy") -> None:
        writers = {"copy": self._copy_new, "staging": self._staging, "executemany": self._executemany}
        if strategy not in writers:
            raise ValueError(f"unknown strategy {strategy!r}")
        self._engine = engine
        self._write_rows = writers[strategy]

    def write(self, batch: Sequence[ActivityRow]) -> None:
        """Inserts the rows not yet present, all in one transaction."""
        if not batch:
            return
        with self._engine.begin() as connection:
            with raw_connection(connection).cursor() as cursor:
                self._write_rows(cursor, batch)

    @staticmethod
    def _copy_new(cursor, rows: Sequence[tuple]) -> None:
        copy_new_rows(cursor, "activity_events", COLUMNS, rows, key="event_id", conflict=_CONFLICT)

    @staticmethod
    def _staging(cursor, rows: Sequence[tuple]) -> None:
        copy_insert(cursor, "activity_events", COLUMNS, rows, conflict=_CONFLICT, order_by="event_id")

    @staticmethod
    def _executemany(cursor, rows: list[tuple]) -> None:
        rows = in_key_order(rows, 0)  # event_id order, like the other paths (bulk.py: lock order)
        executemany_insert(cursor, "activity_events", COLUMNS, rows, conflict=_CONFLICT)


def lock_unsent(conn, *, received_before: datetime, limit: int) -> list[dict]:
    """notify=true events not fanned out and received before ``received_before``, locked (SKIP LOCKED)
    for this transaction so reconciler replicas split the work."""
    from sqlalchemy import text

    rows = conn.execute(text(
        f"SELECT {', '.join(COLUMNS)} FROM activity_events WHERE notify AND notification_sent_at IS NULL "
        "AND received_at < :before ORDER BY received_at LIMIT :limit FOR UPDATE SKIP LOCKED"),
        {"before": received_before, "limit": limit}).mappings().all()
    return [dict(r) for r in rows]


def lock_unsent_ids(conn, event_ids: list) -> list[dict]:
    """Those of ``event_ids`` still not fanned out, locked for this transaction (SKIP LOCKED)."""
    from sqlalchemy import text

    rows = conn.execute(text(
        f"SELECT {', '.join(COLUMNS)} FROM activity_events WHERE event_id = ANY(:ids) AND notify "
        "AND notification_sent_at IS NULL ORDER BY received_at FOR UPDATE SKIP LOCKED"),
        {"ids": list(event_ids)}).mappings().all()
    return [dict(r) for r in rows]


def mark_fanned_out(conn, event_ids: list, at: datetime) -> None:
    """Marks events as fanned out without fanning them out (the reconciler's events set aside)."""
    from sqlalchemy import text

    conn.execute(text("UPDATE activity_events SET notification_sent_at = :at WHERE event_id = ANY(:ids)"),
                 {"at": at, "ids": list(event_ids)})
