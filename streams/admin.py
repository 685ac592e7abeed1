"""Broker-side chores: creating topics (idempotent) and reading group lag from the broker."""
from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from streams.errors import ServiceUnavailable
from streams.settings import KafkaSettings
from streams.topics import TopicSpec


def wait_for_kafka(admin: AdminClient, timeout_s: float = 60.0) -> None:
    """Returns once a metadata call answers; raises ServiceUnavailable after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=5)
            return
        except KafkaException as exc:
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"Kafka did not answer a metadata call: {exc}") from exc


def create_topics(admin: AdminClient, settings: KafkaSettings, specs: list[TopicSpec]) -> dict[str, str]:
    """Creates the missing topics; returns ``{name: "created" | "exists"}``. Safe to run again."""
    existing = set(admin.list_topics(timeout=10).topics)
    todo = [s for s in specs if settings.topic(s.base) not in existing]
    result = {settings.topic(s.base): "exists" for s in specs if settings.topic(s.base) in existing}
    if not todo:
        return result
    futures = admin.create_topics([NewTopic(settings.topic(s.base), s.partitions, 1, config=s.config) for s in todo])
    for name, future in futures.items():
        try:
            future.result()
            result[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            result[name] = "exists"
    _wait_for_leaders(admin, list(futures))
    return result


def delete_topics(admin: AdminClient, settings: KafkaSettings, specs: list[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Deletes these topics of ``settings``' prefix and waits for the broker to accept each deletion
    (a missing topic counts as deleted); returns the names deleted. Benchmarks and test fixtures call
    it for their scratch prefixes, which otherwise pile up on a long-lived local broker."""
    names = [settings.topic(s.base) for s in specs]
    futures = admin.delete_topics(names, operation_timeout=timeout_s, request_timeout=timeout_s)
    deleted = []
    for name, future in futures.items():
        try:
            future.result()
            deleted.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
    return deleted


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=5).topics
        if all(n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values())
               for n in names):
            return
        time.sleep(0.1)


@dataclass(frozen=True)
class PartitionLag:
    """Lag of one group on one partition, from the broker's committed offset and end offset."""

    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def messages(self) -> int:
        return max(self.end - max(self.committed, 0), 0)


def group_lag(admin: AdminClient, group: str, topic: str) -> list[PartitionLag]:
    """Committed offsets of ``group`` on every partition of ``topic`` against the end offsets."""
    meta = admin.list_topics(topic, timeout=10).topics[topic]
    parts = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
    request = [ConsumerGroupTopicPartitions(group, parts)]
    committed = admin.list_consumer_group_offsets(request)[group].result().topic_partitions
    ends = admin.list_offsets({tp: OffsetSpec.latest() for tp in parts}, isolation_level=IsolationLevel.READ_COMMITTED)
    end_by_p = {tp.partition: f.result().offset for tp, f in ends.items()}
    return [PartitionLag(group, topic, tp.partition, tp.offset, end_by_p[tp.partition]) for tp in committed]
