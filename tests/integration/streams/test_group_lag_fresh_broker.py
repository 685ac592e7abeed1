"""``group_lag`` on a freshly formatted broker, asked the moment metadata answers: while
``__consumer_offsets`` is created and loaded the coordinator answers NOT_COORDINATOR, which crashed
the process when committed offsets were read through ``AdminClient.list_consumer_group_offsets``
(SIGSEGV in confluent-kafka 2.11-2.16). Run in a child process, so a crash fails the test instead of
ending pytest."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.throwaway_kafka import ThrowawayKafka

pytestmark = pytest.mark.integration

CHILD = """
import sys, time
from confluent_kafka import Consumer, KafkaException, TopicPartition
from streams.admin import create_topics, group_lag
from streams.clients import build_admin
from streams.settings import KafkaSettings
from streams.topics import TopicSpec

settings = KafkaSettings(kafka_bootstrap=sys.argv[1], topic_prefix="fresh.", group_prefix="fresh-")
create_topics(build_admin(settings), settings, [TopicSpec("t", 3)])
topic, group = settings.topic("t"), settings.group("g")
rows = group_lag(settings, group, topic, timeout_s=30)  # the first offset fetch this broker ever answers
print("first", sorted((r.partition, r.committed, r.messages) for r in rows))
consumer = Consumer({"bootstrap.servers": sys.argv[1], "group.id": group, "enable.auto.commit": False})
consumer.commit(offsets=[TopicPartition(topic, 1, 0)], asynchronous=False)
consumer.close()
print("after", sorted((r.partition, r.committed) for r in group_lag(settings, group, topic, timeout_s=10)))
"""


def test_given_a_fresh_broker_when_group_lag_is_read_at_once_then_it_answers_and_the_process_lives(tmp_path):
    kafka = ThrowawayKafka(tmp_path)
    kafka.format()
    kafka.start()
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, kafka.bootstrap], capture_output=True, text=True, timeout=120
        )
    finally:
        kafka.stop()
    assert child.returncode == 0, f"exit {child.returncode}: {child.stderr[-2000:]}"
    lines = child.stdout.splitlines()
    assert "first [(0, -1001, 0), (1, -1001, 0), (2, -1001, 0)]" in lines
    assert "after [(0, -1001), (1, 0), (2, -1001)]" in lines
