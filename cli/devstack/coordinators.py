"""Whether a broker's group and transaction coordinators answer, not just its metadata.

A KRaft broker answers metadata seconds before it serves commits and transactions: on a fresh data
dir ``__consumer_offsets`` and ``__transaction_state`` are created by the first request that needs
them and then loaded, and after a restart they are loaded again. A client arriving in that window is
told NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS (and an AdminClient offset fetch answered so
crashes confluent-kafka 2.11-2.16), so ``herald dev up`` returns only once both coordinators answer
(docs/decisions/0103-dev-up-waits-for-coordinators.md).
"""

from __future__ import annotations

import logging
import time

PROBE_TOPIC = "herald.devstack.probe"
PROBE_GROUP = "herald.devstack.probe"
PROBE_TRANSACTIONAL_ID = "herald.devstack.probe"
RETRY_PAUSE_S = 0.5


class CoordinatorsNotReady(Exception):
    """A coordinator did not answer in time; the message names which and its last error."""


def silent_logger() -> logging.Logger:
    """librdkafka's 'Connection refused' and 'coordinator loading' lines are expected while waiting."""
    logger = logging.getLogger("herald.devstack.librdkafka")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _base(bootstrap: str) -> dict:
    return {"bootstrap.servers": bootstrap, "logger": silent_logger(), "reconnect.backoff.max.ms": 500}


def _ensure_probe_topic(bootstrap: str, timeout_s: float) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(_base(bootstrap))
    if PROBE_TOPIC in admin.list_topics(timeout=timeout_s).topics:
        return
    future = admin.create_topics([NewTopic(PROBE_TOPIC, 1, 1)], operation_timeout=timeout_s, request_timeout=timeout_s)[
        PROBE_TOPIC
    ]
    try:
        future.result(timeout_s)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def probe_group_coordinator(bootstrap: str, timeout_s: float) -> None:
    """A probe group commits offset 0 of the probe topic and reads it back, both within ``timeout_s``;
    raises (KafkaException or CoordinatorsNotReady) otherwise. The consumer never subscribes, so the
    group never has members and never rebalances anyone."""
    from confluent_kafka import Consumer, TopicPartition

    deadline = time.monotonic() + timeout_s
    _ensure_probe_topic(bootstrap, timeout_s)
    answers: list = []
    consumer = Consumer(
        {
            **_base(bootstrap),
            "group.id": PROBE_GROUP,
            "enable.auto.commit": False,
            "on_commit": lambda err, _parts: answers.append(err),
        }
    )
    try:
        consumer.commit(offsets=[TopicPartition(PROBE_TOPIC, 0, 0)], asynchronous=True)
        while not answers and time.monotonic() < deadline:
            consumer.poll(0.1)  # serves the commit callback
        if not answers:
            raise CoordinatorsNotReady("the offset commit got no answer")
        if answers[0] is not None:
            raise CoordinatorsNotReady(f"the offset commit failed: {answers[0]}")
        [read] = consumer.committed([TopicPartition(PROBE_TOPIC, 0)], timeout=max(deadline - time.monotonic(), 0.1))
        if read.error is not None or read.offset != 0:
            raise CoordinatorsNotReady(f"the committed offset read back as {read.offset} ({read.error})")
    finally:
        consumer.close()


def probe_transaction_coordinator(bootstrap: str, timeout_s: float) -> None:
    """A probe transactional producer's ``init_transactions`` succeeds within ``timeout_s``; raises
    KafkaException otherwise."""
    from confluent_kafka import Producer

    producer = Producer({**_base(bootstrap), "transactional.id": PROBE_TRANSACTIONAL_ID})
    try:
        producer.init_transactions(timeout_s)
    finally:
        producer.flush(0)


def wait_for_coordinators(bootstrap: str, timeout_s: float) -> float:
    """Returns the seconds it took until the group and then the transaction coordinator answered a
    probe; raises CoordinatorsNotReady naming the one that did not within ``timeout_s``."""
    started = time.monotonic()
    deadline = started + timeout_s
    for name, probe in (
        ("group coordinator", probe_group_coordinator),
        ("transaction coordinator", probe_transaction_coordinator),
    ):
        while True:
            try:
                probe(bootstrap, min(max(deadline - time.monotonic(), 0.5), 10.0))
                break
            except Exception as exc:  # noqa: BLE001 - any failure is "not yet"; the last one is reported
                if time.monotonic() + RETRY_PAUSE_S >= deadline:
                    raise CoordinatorsNotReady(
                        f"the {name} at {bootstrap} did not answer within {timeout_s:.0f} s; last error: {exc}"
                    ) from exc
                time.sleep(RETRY_PAUSE_S)
    return time.monotonic() - started
