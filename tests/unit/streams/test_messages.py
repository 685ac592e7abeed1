"""The validation every event passes on both sides of the wire, and priority parsing."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from streams.errors import InvalidEvent
from streams.messages import ActivityEvent, Priority, parse_priority


def event(**overrides) -> ActivityEvent:
    base = dict(
        event_id=uuid.uuid4(),
        event_type="APPOINTMENT_SCHEDULED",
        title="Appointment booked",
        occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        organization_id="org-1",
    )
    return ActivityEvent(**{**base, **overrides})


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"organization_id": ""}, "organization_id is required"),
        ({"title": "x" * 201}, "title is 201 characters"),
        ({"title": ""}, "title is required"),
        ({"event_type": "lab result"}, "UPPER_SNAKE_CASE"),
        ({"visibility": "everyone"}, "unknown visibility"),
        ({"occurred_at": datetime(2026, 1, 1)}, "time zone"),
    ],
)
def test_invalid_events_are_refused_with_the_rule_they_break(overrides, message):
    with pytest.raises(InvalidEvent, match=message):
        event(**overrides).validate()


def test_priority_parsing_accepts_any_case_and_refuses_unknown_values():
    assert parse_priority("urgent") is Priority.URGENT
    assert parse_priority(None) is None
    with pytest.raises(InvalidEvent, match="unknown priority 'CRITICAL'"):
        parse_priority("CRITICAL")
