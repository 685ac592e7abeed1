"""confluent-kafka client configs; clients are built at start-up and passed in, never reached globally."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from streams.client_errors import client_hooks
from streams.settings import KafkaSettings


def consumer_config(settings: KafkaSettings, group: str, **overrides: Any) -> dict[str, Any]:
    """Manual commits after durable effects; cooperative-sticky; reads committed records only.

    When the broker answers a fetch and how long a dead member keeps its partitions are settings of
    the runtime (``RuntimeSettings``: fetch_min_bytes, fetch_wait_max_ms, session_timeout_ms) that
    ``streams.app.build_runtime`` passes as overrides (``fetching``, ``membership``): their defaults are
    written there only. A consumer built without them (a reader that only assigns and seeks) gets
    librdkafka's."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": settings.group(group),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "isolation.level": "read_committed",
        "queued.max.messages.kbytes": 16_384,  # 16 MB of prefetch is ~10 full batches; the 64 MB default is RSS
        "max.poll.interval.ms": 300_000,
        **client_hooks("consumer"),  # an outage's errors: one line when it starts, one when it ends
    }
    config.update(overrides)
    return config


def producer_config(
    settings: KafkaSettings, *, transactional_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """Idempotent, acks=all, a short linger, compression as set (``HERALD_KAFKA_COMPRESSION``, none by
    default: see KafkaSettings); Java's murmur2 partitioner so keys land where Java producers would put them."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.kafka_compression,
        "linger.ms": 5,
        "partitioner": "murmur2_random",
        **client_hooks("producer"),
    }
    if transactional_id:
        config["transactional.id"] = transactional_id
        config["transaction.timeout.ms"] = 30_000
    config.update(overrides)
    return config


def build_consumer(settings: KafkaSettings, group: str, **overrides: Any) -> Consumer:
    return Consumer(consumer_config(settings, group, **overrides))


def build_producer(settings: KafkaSettings, *, transactional_id: str | None = None, **overrides: Any) -> Producer:
    producer = Producer(producer_config(settings, transactional_id=transactional_id, **overrides))
    if transactional_id:
        producer.init_transactions(30)
    return producer


def build_admin(settings: KafkaSettings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **client_hooks("admin")})
