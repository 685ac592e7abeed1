"""The persister's decoder builds the same row as ActivityEvent → event_row, and refuses the same events."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pytest

from cli.produce import demo_event_list
from sinks.postgres.activity import COLUMNS
from sinks.postgres.activity_rows import event_row, row_from_avro
from streams.errors import InvalidEvent
from streams.messages import ACTIVITY_EVENT, ActivityEvent
from streams.serde import AvroSerde, SchemaStore

SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())
ATTRIBUTES = COLUMNS.index("attributes")


def comparable(row: tuple) -> tuple:
    return row[:ATTRIBUTES] + (row[ATTRIBUTES].obj,) + row[ATTRIBUTES + 1 :]


def test_rows_equal_those_of_the_dataclass_path_for_demo_traffic():
    events = demo_event_list(2000, seed=9)
    overridden = [
        ActivityEvent(
            uuid.uuid4(),
            "LAB_RESULT_CRITICAL",
            datetime(2026, 1, 1, tzinfo=timezone.utc),
            "o",
            "t",
            visibility="all_members",
            attributes={"a": "b"},
            source="lab",
        )
    ]
    assert len({e.event_type for e in events}) > 10
    for event in events + overridden:
        decoded = SERDE.decode(SERDE.encode(event.to_avro()))
        assert comparable(row_from_avro(decoded)) == comparable(event_row(ActivityEvent.from_avro(decoded)))


@pytest.mark.parametrize(
    "change",
    [
        {"organization_id": ""},
        {"event_type": "lab result"},
        {"title": ""},
        {"title": "x" * 201},
        {"description": "x" * 4001},
        {"visibility": "everyone"},
        {"occurred_at": datetime(2026, 1, 1)},
    ],
)
def test_invalid_events_are_refused_with_the_dataclass_paths_reason(change):
    decoded = SERDE.decode(SERDE.encode(demo_event_list(1, seed=3)[0].to_avro())) | change
    with pytest.raises(InvalidEvent) as expected:
        ActivityEvent.from_avro(decoded)
    with pytest.raises(InvalidEvent, match=re.escape(str(expected.value))):
        row_from_avro(decoded)
