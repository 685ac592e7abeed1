"""The producer SDK: invalid events raise at the call; a dead broker never raises into the request."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import REGISTRY

from streams.errors import InvalidEvent
from streams.messages import ACTIVITY_EVENT
from streams.producer import ActivityPublisher, Publisher
from streams.serde import AvroSerde, SchemaStore
from streams.settings import ProducerSettings

NO_BROKER = ProducerSettings(
    kafka_bootstrap="127.0.0.1:1", producer_delivery_timeout_ms=1500, producer_buffer_max_messages=5
)


class RecordingPublisher:
    def __init__(self):
        self.published = []

    def publish(self, topic, key, value, headers=None):
        self.published.append((topic, key, value))
        return True


def activity(publisher) -> ActivityPublisher:
    return ActivityPublisher(publisher, AvroSerde(ACTIVITY_EVENT, SchemaStore()), "t.activity-events.v1")


EMR_CALL = dict(
    event_type="APPOINTMENT_SCHEDULED",
    priority="NORMAL",
    patient_id="p-1",
    organization_id="org-1",
    actor_user_id="u-1",
    title="Appointment booked",
    description="Follow-up",
    resource_id="appt-9",
    notify=True,
)


def test_emit_activity_event_takes_the_emr_keyword_arguments_and_keys_by_patient():
    sink = RecordingPublisher()
    event_id = activity(sink).emit_activity_event(**EMR_CALL)
    ((topic, key, value),) = sink.published
    assert (topic, key) == ("t.activity-events.v1", b"p-1")
    assert AvroSerde(ACTIVITY_EVENT, SchemaStore()).decode(value)["event_id"] == str(event_id)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"organization_id": ""}, "organization_id is required"),
        ({"priority": "SOON"}, "unknown priority"),
        ({"title": "x" * 500}, "title is 500 characters"),
    ],
)
def test_an_invalid_event_raises_at_the_call_and_never_reaches_kafka(change, message):
    sink = RecordingPublisher()
    with pytest.raises(InvalidEvent, match=message):
        activity(sink).emit_activity_event(**{**EMR_CALL, **change})
    assert sink.published == []


def test_with_the_broker_down_publish_returns_and_the_failure_is_reported_by_callback_and_metric():
    failed = threading.Event()
    failures = []

    def on_failure(f):
        failures.append(f)
        failed.set()

    before = REGISTRY.get_sample_value("herald_publish_failures_total", {"topic": "t.x", "reason": "delivery"}) or 0
    publisher = Publisher(NO_BROKER, on_failure=on_failure)
    try:
        assert publisher.publish("t.x", b"k", b"v") is True
        assert failed.wait(30), "no failure reported after the delivery timeout"
    finally:
        publisher.close(1)
    assert "timed out" in failures[0].reason.lower() or "timeout" in failures[0].reason.lower()
    after = REGISTRY.get_sample_value("herald_publish_failures_total", {"topic": "t.x", "reason": "delivery"})
    assert after == before + 1


def test_a_full_local_buffer_refuses_the_record_without_raising():
    failures = []
    publisher = Publisher(NO_BROKER, on_failure=failures.append)
    try:
        results = [publisher.publish("t.y", b"k", b"v") for _ in range(8)]
    finally:
        publisher.close(0)
    assert results[:5] == [True] * 5 and False in results[5:]
    assert any(f.reason == "local buffer full" for f in failures)
