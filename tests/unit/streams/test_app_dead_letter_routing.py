"""The runtime's dead-letter routing is what its caller passes (streams.app.dlq_router): each input
topic to its own dead-letter topic, and an input without one refused at start-up."""

from __future__ import annotations

import pytest

from streams.app import MissingDeadLetterTopic, build_runtime, dlq_router
from streams.settings import KafkaSettings, ProcessorSettings


def test_each_input_topic_is_routed_to_its_own_dead_letter_topic_with_the_prefix():
    route = dlq_router(KafkaSettings(topic_prefix="t."), {"a.v1": "a.dlq.v1", "b.v1": "b.dlq.v1"}, ["a.v1", "b.v1"])
    assert (route("t.a.v1"), route("t.b.v1")) == ("t.a.dlq.v1", "t.b.dlq.v1")


def test_given_an_input_without_a_dead_letter_topic_then_wiring_fails_naming_it():
    with pytest.raises(MissingDeadLetterTopic, match=r"\['b.v1'\]"):
        dlq_router(KafkaSettings(), {"a.v1": "a.dlq.v1"}, ["a.v1", "b.v1"])


def test_given_an_input_without_a_dead_letter_topic_then_no_runtime_is_built():
    with pytest.raises(MissingDeadLetterTopic):
        build_runtime(
            ProcessorSettings(kafka_bootstrap="127.0.0.1:1"),
            processor=object(),
            group="g",
            topics=["directory.v1"],
            dead_letters={"activity-events.v1": "activity-events.dlq.v1"},
            decode=lambda m: m,
            sink=None,
        )


def test_a_topic_the_consumer_never_subscribed_has_no_route():
    route = dlq_router(KafkaSettings(), {"a.v1": "a.dlq.v1"}, ["a.v1"])
    with pytest.raises(KeyError):
        route("emr.activity-events.v1")
