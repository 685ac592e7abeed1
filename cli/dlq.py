"""``herald dlq list``: read a dead-letter topic from the start without joining a group."""
from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from streams.deadletter import headers_dict
from streams.settings import KafkaSettings


@dataclass(frozen=True)
class DlqEntry:
    partition: int
    offset: int
    key: bytes | None
    size: int
    headers: dict[str, str]


def read_dlq(settings: KafkaSettings, topic: str, limit: int = 1000) -> list[DlqEntry]:
    """Every record of ``topic`` up to its end (at most ``limit``), oldest first; commits nothing."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "herald-dlq-reader",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
        todo = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in todo])
        entries: list[DlqEntry] = []
        while todo and len(entries) < limit:
            for msg in consumer.consume(500, 1.0):
                if msg.error():
                    continue
                entries.append(DlqEntry(msg.partition(), msg.offset(), msg.key(), len(msg.value() or b""),
                                        headers_dict(msg.headers())))
                if msg.offset() + 1 >= ends[msg.partition()][1]:
                    todo.discard(msg.partition())
        return entries[:limit]
    finally:
        consumer.close()
