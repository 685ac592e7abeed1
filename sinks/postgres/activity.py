"""The activity_events sink: one transaction per batch, idempotent on event_id.

Two write strategies, measured by ``bench/persist.py`` (figures in the README):
* ``copy``: COPY into a per-connection temp staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING;
* ``executemany``: psycopg 3's pipelined executemany of INSERT … ON CONFLICT DO NOTHING
(both in ``sinks/postgres/bulk.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence
from uuid import UUID

from sqlalchemy import Engine

from sinks.postgres.bulk import copy_insert, executemany_insert
from sinks.postgres.engine import raw_connection

COLUMNS = (
    "event_id", "event_type", "priority", "occurred_at", "organization_id", "actor_user_id", "patient_id",
    "encounter_id", "resource_type", "resource_id", "practitioner_user_id", "title", "description", "notify",
    "visibility", "attributes", "source",
)
_CONFLICT = "(event_id) DO NOTHING"


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """One activity_events row as the persister decided it."""

    event_id: UUID
    event_type: str
    priority: str
    occurred_at: datetime
    organization_id: str
    actor_user_id: str | None
    patient_id: str | None
    encounter_id: str | None
    resource_type: str | None
    resource_id: str | None
    practitioner_user_id: str | None
    title: str
    description: str | None
    notify: bool
    visibility: str | None
    attributes: dict
    source: str

    def as_tuple(self) -> tuple:
        return (
            self.event_id, self.event_type, self.priority, self.occurred_at, self.organization_id,
            self.actor_user_id, self.patient_id, self.encounter_id, self.resource_type, self.resource_id,
            self.practitioner_user_id, self.title, self.description, self.notify, self.visibility,
            json.dumps(self.attributes), self.source,
        )


class ActivityEventSink:
    """Writes ActivityRows; a raised error rolls the transaction back and aborts the checkpoint."""

    def __init__(self, engine: Engine, strategy: str = "copy") -> None:
        if strategy not in ("copy", "executemany"):
            raise ValueError(f"unknown strategy {strategy!r}")
        self._engine = engine
        self._write_rows = self._copy if strategy == "copy" else self._executemany

    def write(self, batch: Sequence[ActivityRow]) -> None:
        """Inserts the rows not yet present, all in one transaction."""
        if not batch:
            return
        with self._engine.begin() as connection:
            with raw_connection(connection).cursor() as cursor:
                self._write_rows(cursor, [row.as_tuple() for row in batch])

    @staticmethod
    def _copy(cursor, rows: list[tuple]) -> None:
        copy_insert(cursor, "activity_events", COLUMNS, rows, conflict=_CONFLICT)

    @staticmethod
    def _executemany(cursor, rows: list[tuple]) -> None:
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
