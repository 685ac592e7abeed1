"""``herald dev up`` waits for the group and transaction coordinators, on a freshly formatted
throwaway broker (never the shared one): right after it returns, a new group's offset commit and
read and a new transactional producer's initialization succeed at the first attempt."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from cli.devstack.coordinators import PROBE_TOPIC
from cli.devstack.errors import DevstackError
from cli.devstack.kafka import kafka_coordinators_ready
from tests.integration.throwaway_kafka import ThrowawayKafka, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fresh_broker(tmp_path_factory):
    kafka = ThrowawayKafka(tmp_path_factory.mktemp("fresh-kafka"))
    kafka.format()
    kafka.start()
    yield kafka
    kafka.stop()


def test_given_a_freshly_formatted_broker_when_dev_up_returns_then_both_coordinators_answer_at_once(fresh_broker):
    # Given a broker whose metadata answers but whose __consumer_offsets / __transaction_state do not exist yet
    assert fresh_broker.metadata_answers()
    # When dev up's wait returns
    kafka_coordinators_ready(fresh_broker.bootstrap, timeout_s=60)

    # Then the first command commits and reads a group offset, one attempt, short timeouts
    consumer = Consumer(
        {"bootstrap.servers": fresh_broker.bootstrap, "group.id": "first-command", "enable.auto.commit": False}
    )
    try:
        consumer.commit(offsets=[TopicPartition(PROBE_TOPIC, 0, 0)], asynchronous=False)
        [read] = consumer.committed([TopicPartition(PROBE_TOPIC, 0)], timeout=5)
        assert (read.offset, read.error) == (0, None)
    finally:
        consumer.close()
    # ... and initializes a transactional producer
    Producer({"bootstrap.servers": fresh_broker.bootstrap, "transactional.id": "first-command"}).init_transactions(5)


def test_given_no_broker_then_the_wait_ends_at_its_timeout_with_an_error_naming_the_coordinator():
    started = time.monotonic()
    with pytest.raises(DevstackError, match="group coordinator at 127.0.0.1:.* did not answer within 3 s"):
        kafka_coordinators_ready(f"127.0.0.1:{free_port()}", timeout_s=3)
    assert time.monotonic() - started < 8
