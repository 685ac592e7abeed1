"""Conflicting duplicates: what counts as the same event, and which copy is kept (processors/duplicates.py,
sinks/postgres/activity.py:row_content)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

from cli.produce import demo_event_list
from processors.duplicates import CONFLICTING_DUPLICATE, first_versions
from sinks.postgres.activity import row_content
from sinks.postgres.activity_rows import event_row, row_from_avro
from streams.messages import ACTIVITY_EVENT, ActivityEvent
from streams.records import Record
from streams.serde import AvroSerde, SchemaStore
from streams.testing import FakeMessage

SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())


def test_the_content_is_the_same_through_either_decoder_and_a_database_round_trip():
    for event in demo_event_list(300, seed=4):
        decoded = SERDE.decode(SERDE.encode(event.to_avro()))
        fast, dataclass_path = row_from_avro(decoded), event_row(ActivityEvent.from_avro(decoded))
        # as psycopg reads it back: a dict for JSONB, the time in the connection's time zone
        stored = (
            fast[:3]
            + (fast[3].astimezone(timezone(timedelta(hours=-5))),)
            + fast[4:15]
            + (dict(fast[15].obj),)
            + fast[16:]
        )
        assert row_content(fast) == row_content(dataclass_path) == row_content(stored)


def test_any_other_value_is_other_content():
    event = demo_event_list(1, seed=5)[0]
    base = row_content(event_row(event))
    for change in (
        {"title": event.title + "!"},
        {"patient_id": "someone-else"},
        {"notify": not event.notify},
        {"occurred_at": event.occurred_at + timedelta(microseconds=1)},
        {"attributes": {"x": "y"}},
        {"description": None if event.description else "d"},
        {"source": "other"},
    ):
        assert row_content(event_row(dataclasses.replace(event, **change))) != base, change


def record(event: ActivityEvent, offset: int) -> Record:
    return Record(event, FakeMessage("activity", 0, offset, b"", f"k{offset}".encode()))


def first_of(records, stored=None):
    return first_versions(
        records, stored or {}, key=lambda r: r.value.event_id, content=lambda r: row_content(event_row(r.value))
    )


def test_the_first_copy_in_the_batch_wins_and_a_same_content_copy_is_no_conflict():
    v1 = ActivityEvent(
        uuid.uuid4(),
        "LAB_RESULT_RECEIVED",
        datetime(2026, 1, 1, tzinfo=timezone.utc),
        "o",
        "first",
        patient_id="p1",
        notify=True,
    )
    v2 = dataclasses.replace(v1, title="second", patient_id="p2")
    records = [record(v1, 0), record(v2, 1), record(v1, 2)]

    kept, dead = first_of(records)

    assert [r.message.offset() for r in kept] == [0, 2]
    (conflict,) = dead
    assert conflict.message.offset() == 1 and conflict.error_type == CONFLICTING_DUPLICATE
    assert conflict.reason.startswith("conflicting duplicate") and "second" not in conflict.reason


def test_a_stored_version_wins_over_every_copy_in_the_batch():
    v1 = ActivityEvent(
        uuid.uuid4(), "LAB_RESULT_RECEIVED", datetime(2026, 1, 1, tzinfo=timezone.utc), "o", "first", notify=True
    )
    v2 = dataclasses.replace(v1, title="second")

    kept, dead = first_of([record(v2, 0), record(v1, 1)], stored={v1.event_id: row_content(event_row(v1))})

    assert [r.message.offset() for r in kept] == [1] and [d.message.offset() for d in dead] == [0]
