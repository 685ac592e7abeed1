"""The outbox writer without a database: the row it builds, the statement it runs, what it refuses."""

from __future__ import annotations

import uuid

import pytest

from streams import outbox
from streams.errors import InvalidEvent
from streams.messages import ACTIVITY_EVENT
from streams.outbox_schema import WRITER_LOCK_CLASS
from streams.producer import ActivityPublisher, activity_event
from streams.serde import AvroSerde, SchemaStore, registry_client

FIELDS = {"event_type": "PATIENT_REGISTERED", "organization_id": "org-1", "title": "Registered"}


def test_the_row_carries_the_key_and_the_sdks_record_value():
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    event = activity_event(patient_id="pat-1", **FIELDS)
    row = outbox.outbox_row(event, serde)
    sdk = ActivityPublisher(publisher=None, serde=serde, topic="emr.activity-events.v1")  # type: ignore[arg-type]
    assert row == {
        "id": event.event_id,
        "aggregatetype": "patient",
        "aggregateid": "pat-1",
        "type": "PATIENT_REGISTERED",
        "payload": sdk.encode(event),
        "traceparent": None,  # set by publish_event when tracing is on
        "tracestate": None,
    }


def test_without_a_patient_the_key_is_the_organization():
    row = outbox.outbox_row(activity_event(**FIELDS), AvroSerde(ACTIVITY_EVENT, SchemaStore()))
    assert (row["aggregatetype"], row["aggregateid"]) == ("organization", "org-1")


def test_with_a_registry_the_payload_has_the_registry_framing():
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore(), registry=registry_client("mock://outbox"), subject="t-value")
    payload = outbox.outbox_row(activity_event(**FIELDS), serde)["payload"]
    assert payload[:1] == b"\x00" and serde.decode(payload)["title"] == "Registered"


def test_the_statement_locks_the_key_before_it_inserts():
    sql = outbox._insert_sql("herald_outbox", ":{}")
    assert sql.index(f"pg_advisory_xact_lock({WRITER_LOCK_CLASS}, hashtext(") < sql.index("INSERT INTO herald_outbox")
    assert "FROM lock" in sql and "ON CONFLICT (id) DO NOTHING" in sql
    assert "%(id)s" in outbox._insert_sql("herald_outbox", "%({})s")


class Recorder:
    def __init__(self) -> None:
        self.calls: list = []

    def execute(self, *args):
        self.calls.append(args)


def test_an_unknown_connection_kind_is_refused():
    with pytest.raises(TypeError, match="psycopg 3 Connection"):
        outbox.emit_activity_event(Recorder(), **FIELDS)


def test_an_invalid_event_raises_before_the_connection_is_touched():
    with pytest.raises(InvalidEvent, match="UPPER_SNAKE_CASE"):
        outbox.emit_activity_event(Recorder(), event_type="lower", organization_id="o", title="t")


def test_a_table_name_that_is_not_an_identifier_is_refused(monkeypatch):
    monkeypatch.setattr(outbox, "_kind", lambda conn: "sqlalchemy")
    with pytest.raises(ValueError, match="outbox table name"):
        outbox.emit_activity_event(Recorder(), table="x; drop table y", **FIELDS)


def test_the_event_id_given_is_the_row_id(monkeypatch):
    monkeypatch.setattr(outbox, "_kind", lambda conn: "sqlalchemy")
    conn, event_id = Recorder(), uuid.uuid4()
    assert outbox.emit_activity_event(conn, event_id=event_id, **FIELDS) == event_id
    [(statement, row)] = conn.calls
    assert row["id"] == event_id and "INSERT INTO herald_outbox " in str(statement)
