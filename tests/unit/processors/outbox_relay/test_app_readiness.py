"""The relay's readiness asks the broker, so an idle relay that could not send is not ready."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from processors.outbox_relay.app import OutboxRelay, broker_answers
from streams.health import run_checks


class Producer:
    def __init__(self, answers: bool) -> None:
        self.answers, self.asked = answers, []

    def list_topics(self, topic, timeout):
        self.asked.append((topic, timeout))
        if not self.answers:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "broker down"))


def relay(producer) -> OutboxRelay:
    return OutboxRelay(None, producer, None, "emr.activity-events.v1")  # type: ignore[arg-type]


def test_ready_while_the_broker_answers_metadata():
    producer = Producer(answers=True)
    assert run_checks({"broker": broker_answers(relay(producer))}) == (True, {"broker": "ok"})
    assert producer.asked == [("emr.activity-events.v1", 2.0)]


def test_not_ready_when_the_broker_does_not_answer():
    ok, results = run_checks({"broker": broker_answers(relay(Producer(answers=False)))})
    assert not ok and "KafkaException" in results["broker"]
