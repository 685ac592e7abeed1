"""The transactional outbox's writer: an activity event exists if and only if the EMR's transaction commits.

``emit_activity_event(conn, ...)`` takes the SDK's keyword arguments, validates the event the same way
(InvalidEvent at the call) and inserts one row into the outbox table through the caller's own connection,
in the caller's transaction; it never commits. A relay (``herald run outbox-relay``) or Debezium's outbox
event router carries committed rows to the activity topic; a rolled-back transaction leaves nothing.

The payload is the record value the SDK would send, encoded here (framing + Avro,
``ActivityPublisher.encode``), so the relay is a pass-through and Debezium can carry the same bytes
(docs/decisions/0190-outbox-payload-is-the-record-value.md). Before inserting, the writer takes a
transaction-scoped advisory lock on the key: two transactions writing one patient's events wait for each
other from the insert to the commit, so within a key the insert order (``seq``) is the commit order, which
is the order the relay sends them in (docs/decisions/0191-outbox-order-per-key.md).

With tracing on (streams/tracing.py), the insert is a ``publish`` span whose W3C context goes into the
row's ``traceparent`` / ``tracestate`` columns; the relay sends them as the record's headers, so the
event's trace runs from the EMR's transaction through every hop as the SDK's does.

Three kinds of connection are accepted: a SQLAlchemy 2 ORM ``Session``, a Core ``Connection`` and a plain
psycopg 3 ``Connection``. One statement (lock and insert together), so an insert costs one round trip.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from streams import tracing
from streams.messages import ACTIVITY_EVENT, ActivityEvent
from streams.outbox_schema import DEFAULT_TABLE, WRITER_LOCK_CLASS, checked_table
from streams.producer import activity_event
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.settings import ProducerSettings
from streams.topics import ACTIVITY


def _insert_sql(table: str, placeholder: str) -> str:
    """The lock-then-insert statement; ``placeholder`` formats a parameter name for the driver. The row
    comes out of the lock's CTE, so the lock is taken before the row is inserted; ``ON CONFLICT`` makes a
    retry with the same event id (while the first row waits to be relayed) one row, as the SDK's is."""
    p = placeholder.format
    return (
        f"WITH lock AS (SELECT pg_advisory_xact_lock({WRITER_LOCK_CLASS}, hashtext(CAST({p('aggregateid')} AS text)))) "
        f"INSERT INTO {checked_table(table)} (id, aggregatetype, aggregateid, type, payload, traceparent, tracestate) "
        f"SELECT CAST({p('id')} AS uuid), {p('aggregatetype')}, {p('aggregateid')}, {p('type')}, "
        f"CAST({p('payload')} AS bytea), CAST({p('traceparent')} AS text), CAST({p('tracestate')} AS text) FROM lock "
        "ON CONFLICT (id) DO NOTHING"
    )


@functools.lru_cache(maxsize=1)
def default_serde() -> AvroSerde:
    """The SDK's encoder as ``HERALD_*`` configures it (registry framing when ``HERALD_SCHEMA_REGISTRY_URL``
    is set, under the subject of ``HERALD_TOPIC_PREFIX``'s activity topic), built once per process."""
    settings = ProducerSettings()
    subject = f"{settings.topic(ACTIVITY)}-value"
    return AvroSerde(
        ACTIVITY_EVENT, SchemaStore(), registry=registry_client(settings.schema_registry_url), subject=subject
    )


def outbox_row(event: ActivityEvent, serde: AvroSerde) -> dict[str, Any]:
    """The outbox row of a valid event: Debezium's outbox columns, the payload the SDK would send."""
    return {
        "id": event.event_id,
        "aggregatetype": "patient" if event.patient_id else "organization",
        "aggregateid": event.key.decode(),
        "type": event.event_type,
        "payload": serde.encode(event.to_avro()),
        "traceparent": None,
        "tracestate": None,
    }


@functools.cache
def _tracing_configured() -> bool:
    """Tracing set up once per process, as the SDK's ``from_settings`` does: the host's tracer provider,
    or the OTEL_* variables."""
    return tracing.configure("herald-sdk")


def publish_event(
    conn: Any, event: ActivityEvent, *, table: str = DEFAULT_TABLE, serde: AvroSerde | None = None
) -> None:
    """Writes an already built event into the outbox in ``conn``'s transaction; raises InvalidEvent on a bad
    one, TypeError on a connection of an unknown kind, ValueError on a psycopg connection outside a
    transaction (autocommit), where the event would commit on its own."""
    row = outbox_row(event.validate(), serde or default_serde())
    _tracing_configured()
    if not tracing.ACTIVE:
        _execute(conn, table, row)
        return
    ids = {"herald.event.id": str(event.event_id), "herald.event.type": event.event_type}
    with tracing.publishing(checked_table(table), ids) as headers:
        row.update({name: value.decode() for name, value in headers if name in row})
        _execute(conn, table, row)


def emit_activity_event(
    conn: Any, *, table: str = DEFAULT_TABLE, serde: AvroSerde | None = None, **fields: Any
) -> uuid.UUID:
    """``ActivityPublisher.emit_activity_event``'s keyword arguments (docs/sdk.md), written into the outbox in
    ``conn``'s transaction; returns the event id. Raises InvalidEvent on a bad event (nothing is written)."""
    event = activity_event(**fields)
    publish_event(conn, event, table=table, serde=serde)
    return event.event_id


def _execute(conn: Any, table: str, row: dict[str, Any]) -> None:
    kind = _kind(conn)
    if kind == "psycopg":
        _refuse_autocommit(conn)
        conn.execute(_insert_sql(table, "%({})s"), row)
    else:
        from sqlalchemy import text

        conn.execute(text(_insert_sql(table, ":{}")), row)


def _kind(conn: Any) -> str:
    """``sqlalchemy`` for an ORM Session or a Core Connection, ``psycopg`` for a psycopg 3 connection. The
    drivers are imported only when present: an EMR service may use one and not the other."""
    try:
        from sqlalchemy.engine import Connection
        from sqlalchemy.orm import Session

        if isinstance(conn, (Session, Connection)):
            return "sqlalchemy"
    except ImportError:  # pragma: no cover - Herald itself always has SQLAlchemy
        pass
    try:
        import psycopg

        if isinstance(conn, psycopg.Connection):
            return "psycopg"
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(
        f"the outbox writes through a SQLAlchemy Session or Connection or a psycopg 3 Connection, not {type(conn).__name__}"
    )


def _refuse_autocommit(conn: Any) -> None:
    from psycopg.pq import TransactionStatus

    if conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE:
        raise ValueError(
            "the psycopg connection is in autocommit mode outside a transaction: the event would commit on its "
            "own; write it inside `with conn.transaction():`"
        )
