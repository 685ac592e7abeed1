"""Broker-side chores: creating topics (idempotent) and reading group lag from the broker.

Every broker call here carries a timeout. A group's committed offsets are read by a consumer whose
``group.id`` is that group and that never subscribes (``group_offset_reader``), never by
``AdminClient.list_consumer_group_offsets``: answered NOT_COORDINATOR (a coordinator still loading,
a broker restarting) that call crashes the process in confluent-kafka 2.11-2.16, because librdkafka
hands the retry to the client's consumer group, which an AdminClient does not have
(docs/decisions/0101-committed-offsets-without-admin.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from streams.client_errors import client_hooks
from streams.clients import build_admin
from streams.errors import ServiceUnavailable
from streams.replication import Replication, replication_for
from streams.settings import KafkaSettings
from streams.topics import TopicSpec

ADMIN_TIMEOUT_S = 10.0
# A coordinator loading or moving answers with these; the reader asks again until its deadline.
COORDINATOR_ERRORS = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError._WAIT_COORD,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
    }
)
RETRY_PAUSE_S = 0.2


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
    """Creates the missing topics; returns ``{name: "created" | "exists"}``. Safe to run again.

    Each new topic gets the replication ``streams.replication`` gives the cluster's broker count (as the
    metadata call lists them): replication factor min(3, brokers), ``min.insync.replicas`` 2 from three
    brokers on, so the producers' ``acks=all`` means two copies. Existing topics are left as they are."""
    cluster = admin.list_topics(timeout=10)
    existing = set(cluster.topics)
    todo = [s for s in specs if settings.topic(s.base) not in existing]
    result = {settings.topic(s.base): "exists" for s in specs if settings.topic(s.base) in existing}
    if not todo:
        return result
    replication = replication_for(max(len(cluster.brokers), 1))
    futures = admin.create_topics(
        [_new_topic(settings.topic(s.base), s, replication) for s in todo],
        operation_timeout=ADMIN_TIMEOUT_S,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    for name, future in futures.items():
        try:
            future.result(2 * ADMIN_TIMEOUT_S)
            result[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
            result[name] = "exists"
    _wait_for_leaders(admin, list(futures))
    return result


def _new_topic(name: str, spec: TopicSpec, replication: Replication) -> NewTopic:
    """The spec's own config wins: a topic that asks for its own ``min.insync.replicas`` keeps it."""
    return NewTopic(name, spec.partitions, replication.factor, config={**replication.topic_config(), **spec.config})


def delete_topics(
    admin: AdminClient, settings: KafkaSettings, specs: list[TopicSpec], timeout_s: float = 30.0
) -> list[str]:
    """Deletes these topics of ``settings``' prefix and waits for the broker to accept each deletion
    (a missing topic counts as deleted); returns the names deleted. Benchmarks and test fixtures call
    it for their scratch prefixes, which otherwise pile up on a long-lived local broker."""
    names = [settings.topic(s.base) for s in specs]
    futures = admin.delete_topics(names, operation_timeout=timeout_s, request_timeout=timeout_s)
    deleted = []
    for name, future in futures.items():
        try:
            future.result(2 * timeout_s)
            deleted.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
    return deleted


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=5).topics
        if all(
            n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values())
            for n in names
        ):
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


def group_offset_reader(settings: KafkaSettings, group: str, **overrides: str | int | bool) -> Consumer:
    """A consumer with ``group.id = group`` that only reads the group's committed offsets: it never
    subscribes (so it never joins, rebalances or commits) and has a consumer group of its own in
    librdkafka, which handles a coordinator that moves or is still loading. read_uncommitted: the
    broker then answers with the last committed offsets even while a transaction holds newer ones
    (what the admin API answered), instead of making the reader wait for that transaction."""
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "isolation.level": "read_uncommitted",
            **client_hooks("offset-reader"),
            **overrides,
        }
    )


def read_committed(reader: Consumer, partitions: list[TopicPartition], timeout_s: float) -> dict[tuple[str, int], int]:
    """The reader's group's committed offset of each partition (negative: none), by (topic, partition).
    Asks again while the coordinator is loading or moving; raises KafkaException after ``timeout_s``."""
    if not partitions:
        return {}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            answered = reader.committed(partitions, timeout=max(deadline - time.monotonic(), 0.1))
            return {(tp.topic, tp.partition): tp.offset for tp in answered}
        except KafkaException as exc:
            if exc.args[0].code() not in COORDINATOR_ERRORS or time.monotonic() + RETRY_PAUSE_S >= deadline:
                raise
            time.sleep(RETRY_PAUSE_S)


def group_lag(
    settings: KafkaSettings, group: str, topic: str, timeout_s: float = ADMIN_TIMEOUT_S
) -> list[PartitionLag]:
    """Committed offsets of ``group`` on every partition of ``topic`` against the end offsets (last
    stable offsets). Raises KafkaException when the broker does not answer within about ``timeout_s``
    per call; never crashes the process (see the module docstring)."""
    admin = build_admin(settings)
    meta = admin.list_topics(topic, timeout=timeout_s).topics[topic]
    if meta.error is not None:
        raise KafkaException(meta.error)
    parts = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
    reader = group_offset_reader(settings, group)
    try:
        committed = read_committed(reader, parts, timeout_s)
    finally:
        reader.close()
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # confluent_kafka leaves OffsetSpec unannotated
    ends = admin.list_offsets(
        {tp: latest for tp in parts}, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout_s
    )
    end_by_p = {tp.partition: f.result(2 * timeout_s).offset for tp, f in ends.items()}
    return [
        PartitionLag(group, topic, tp.partition, committed[(topic, tp.partition)], end_by_p[tp.partition])
        for tp in parts
    ]
