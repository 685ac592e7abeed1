"""The activity_events sink: one transaction per batch, idempotent on event_id.

A conflicting duplicate (an event_id already stored, or earlier in the batch, with other content) is
not written: the first version stays, and ``write`` returns the batch indexes of such rows for the
persister to dead-letter (docs/decisions/0121-conflicting-duplicates.md). A redelivery of the same
event (same content) is no conflict and writes nothing.

Three write strategies, measured by ``bench/persist.py`` (figures in the README), all in
``sinks/postgres/bulk.py``:
* ``copy`` (default): look the batch's event ids up, COPY the new rows straight into activity_events;
* ``staging``: COPY into a per-connection temp staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING;
* ``executemany``: psycopg 3's pipelined executemany of INSERT … ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Sequence
from uuid import UUID

from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from sinks.postgres.bulk import (
    copy_insert,
    copy_new_rows_checked,
    executemany_insert,
    in_key_order,
    staged_differing,
    stored_differing,
)
from sinks.postgres.engine import raw_connection

COLUMNS = (
    "event_id",
    "event_type",
    "priority",
    "occurred_at",
    "organization_id",
    "actor_user_id",
    "patient_id",
    "encounter_id",
    "resource_type",
    "resource_id",
    "practitioner_user_id",
    "title",
    "description",
    "notify",
    "visibility",
    "attributes",
    "source",
)
# No conflict target: the key is (event_id, occurred_at) on the partitioned table and (event_id) on a
# table not yet converted by migration 0009, and DO NOTHING needs none (decision 0230).
_CONFLICT = "DO NOTHING"


# One activity_events row as the persister decided it: a plain tuple in COLUMNS order, ``attributes``
# a psycopg Jsonb. COPY takes it as it is; building one per event is the persister's hot path.
ActivityRow = tuple[
    UUID,
    str,
    str,
    datetime,
    str,  # event_id, event_type, priority, occurred_at, organization_id
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,  # actor, patient, encounter, resource type and id
    str | None,
    str,
    str | None,
    bool,
    str,  # practitioner_user_id, title, description, notify, visibility
    Jsonb,
    str,  # attributes, source
]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def row_content(row: tuple) -> tuple:
    """What two copies of one event must agree on: the row's values in COLUMNS order (effective priority
    and visibility, as stored) in one canonical form, so that the Avro framing, the decoder and a round
    trip through Postgres do not matter: the time as UTC microseconds, ``attributes`` as a plain dict
    (a new row holds a psycopg Jsonb, a stored one a dict)."""
    attributes = row[15]
    return (
        *row[1:3],
        (row[3] - _EPOCH) // _MICROSECOND,
        *row[4:15],
        getattr(attributes, "obj", attributes) or {},
        row[16] or "",
    )


class ConflictingDuplicates(Exception):
    """The fan-out's event upsert met rows that another version of the same event_id holds (stored by a
    writer that committed while this batch was planned). The transaction rolls back; the runtime redoes
    the batch, and the fan-out's plan then sees the stored version and leaves the conflicting ones out."""

    def __init__(self, event_ids: list) -> None:
        super().__init__(f"conflicting duplicate: {len(event_ids)} events are stored with other content")
        self.event_ids = event_ids


def check_fanned_out_events(cursor) -> None:
    """After the fan-out's event upsert (``copy_insert`` into activity_events in this transaction): raises
    ConflictingDuplicates when a stored row differs from the staged one it was upserted with."""
    differing = staged_differing(cursor, "activity_events", "event_id", COLUMNS[1:])
    if differing:
        raise ConflictingDuplicates(differing)


class ActivityEventSink:
    """Writes ActivityRows; a raised error rolls the transaction back and aborts the checkpoint."""

    def __init__(self, engine: Engine, strategy: str = "copy") -> None:
        writers = {"copy": self._copy_new, "staging": self._staging, "executemany": self._executemany}
        if strategy not in writers:
            raise ValueError(f"unknown strategy {strategy!r}")
        self._engine = engine
        self._write_rows = writers[strategy]

    def write(self, batch: Sequence[ActivityRow]) -> list[int]:
        """Inserts the rows not yet present, all in one transaction; returns the indexes of the conflicting
        duplicates in ``batch`` (not written)."""
        if not batch:
            return []
        with self._engine.begin() as connection:
            with raw_connection(connection).cursor() as cursor:
                return self._write_rows(cursor, batch)

    @staticmethod
    def _copy_new(cursor, rows: Sequence[tuple]) -> list[int]:
        return copy_new_rows_checked(
            cursor, "activity_events", COLUMNS, rows, key="event_id", conflict=_CONFLICT, content=row_content
        )

    @staticmethod
    def _staging(cursor, rows: Sequence[tuple]) -> list[int]:
        copy_insert(cursor, "activity_events", COLUMNS, rows, conflict=_CONFLICT, order_by="event_id")
        return stored_differing(cursor, "activity_events", COLUMNS, rows, key="event_id", content=row_content)

    @staticmethod
    def _executemany(cursor, rows: Sequence[tuple]) -> list[int]:
        ordered = in_key_order(rows, 0)  # event_id order, like the other paths (bulk.py: lock order); stable
        executemany_insert(cursor, "activity_events", COLUMNS, ordered, conflict=_CONFLICT)
        return stored_differing(cursor, "activity_events", COLUMNS, rows, key="event_id", content=row_content)


def lock_unsent(conn, *, received_before: datetime, limit: int) -> list[dict]:
    """notify=true events not fanned out and received before ``received_before``, locked (SKIP LOCKED)
    for this transaction so reconciler replicas split the work."""
    from sqlalchemy import text

    rows = (
        conn.execute(
            text(
                f"SELECT {', '.join(COLUMNS)} FROM activity_events WHERE notify AND notification_sent_at IS NULL "
                "AND received_at < :before ORDER BY received_at LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"before": received_before, "limit": limit},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def lock_unsent_ids(conn, event_ids: list) -> list[dict]:
    """Those of ``event_ids`` still not fanned out, locked for this transaction (SKIP LOCKED)."""
    from sqlalchemy import text

    rows = (
        conn.execute(
            text(
                f"SELECT {', '.join(COLUMNS)} FROM activity_events WHERE event_id = ANY(:ids) AND notify "
                "AND notification_sent_at IS NULL ORDER BY received_at FOR UPDATE SKIP LOCKED"
            ),
            {"ids": list(event_ids)},
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


def mark_fanned_out(conn, event_ids: list, at: datetime) -> None:
    """Marks events as fanned out without fanning them out (the reconciler's events set aside)."""
    from sqlalchemy import text

    conn.execute(
        text("UPDATE activity_events SET notification_sent_at = :at WHERE event_id = ANY(:ids)"),
        {"at": at, "ids": list(event_ids)},
    )
