"""Settings from HERALD_* env vars, and the validation every event passes on both sides of the wire."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pydantic
import pytest

from streams.errors import InvalidEvent
from streams.messages import ActivityEvent, Priority, parse_priority
from processors.persister.settings import PersisterSettings
from streams.settings import KafkaSettings


def test_defaults_point_at_the_local_stack(monkeypatch):
    for var in ("HERALD_KAFKA_BOOTSTRAP", "HERALD_DATABASE_URL", "HERALD_TOPIC_PREFIX", "HERALD_GROUP_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    s = PersisterSettings()
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.database_url == "postgresql+psycopg://herald@127.0.0.1:5432/herald"
    assert s.topic("activity-events.v1") == "emr.activity-events.v1"
    assert s.group("persister") == "herald-persister"


def test_prefixes_come_from_env_so_pipelines_can_share_a_broker(monkeypatch):
    monkeypatch.setenv("HERALD_TOPIC_PREFIX", "bench1.")
    monkeypatch.setenv("HERALD_GROUP_PREFIX", "bench1-")
    s = KafkaSettings()
    assert (s.topic("directory.v1"), s.group("fanout")) == ("bench1.directory.v1", "bench1-fanout")


def test_settings_are_frozen_and_validated(monkeypatch):
    monkeypatch.setenv("HERALD_METRICS_PORT", "70000")
    with pytest.raises(pydantic.ValidationError, match="metrics_port"):
        PersisterSettings()
    monkeypatch.delenv("HERALD_METRICS_PORT")
    with pytest.raises(pydantic.ValidationError):
        PersisterSettings().kafka_bootstrap = "elsewhere:9092"


def event(**overrides) -> ActivityEvent:
    base = dict(event_id=uuid.uuid4(), event_type="APPOINTMENT_SCHEDULED", title="Appointment booked",
                occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc), organization_id="org-1")
    return ActivityEvent(**{**base, **overrides})


@pytest.mark.parametrize("overrides,message", [
    ({"organization_id": ""}, "organization_id is required"),
    ({"title": "x" * 201}, "title is 201 characters"),
    ({"title": ""}, "title is required"),
    ({"event_type": "lab result"}, "UPPER_SNAKE_CASE"),
    ({"visibility": "everyone"}, "unknown visibility"),
    ({"occurred_at": datetime(2026, 1, 1)}, "time zone"),
])
def test_invalid_events_are_refused_with_the_rule_they_break(overrides, message):
    with pytest.raises(InvalidEvent, match=message):
        event(**overrides).validate()


def test_priority_parsing_accepts_any_case_and_refuses_unknown_values():
    assert parse_priority("urgent") is Priority.URGENT
    assert parse_priority(None) is None
    with pytest.raises(InvalidEvent, match="unknown priority 'CRITICAL'"):
        parse_priority("CRITICAL")
