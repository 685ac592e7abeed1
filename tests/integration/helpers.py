"""Small helpers of the integration tests: produce, count, read lag and dead letters."""
from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import create_engine, text

from cli.processes import start_processor
from streams.admin import group_lag
from streams.clients import build_admin
from streams.messages import ActivityEvent
from streams.producer import ActivityPublisher
from streams.settings import ProducerSettings
from streams.topics import ACTIVITY


def publish_events(pipeline, events: list[ActivityEvent]) -> None:
    """Publishes through the producer SDK and waits for every acknowledgement."""
    settings = ProducerSettings(kafka_bootstrap=pipeline.settings.kafka_bootstrap,
                                topic_prefix=pipeline.settings.topic_prefix)
    failures = []
    activity = ActivityPublisher.from_settings(settings, on_failure=failures.append)
    for event in events:
        activity.publish(event)
    assert activity.close(60) == 0 and failures == []


def produce_raw(pipeline, topic_base: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": pipeline.settings.kafka_bootstrap})
    for key, value in records:
        producer.produce(pipeline.topic(topic_base), value, key)
    assert producer.flush(30) == 0


def count_rows(pipeline, event_ids: list[uuid.UUID]) -> int:
    engine = create_engine(pipeline.settings.database_url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM activity_events WHERE event_id = ANY(:ids)"),
                         {"ids": list(event_ids)}).scalar_one()
    engine.dispose()
    return n


def topic_size(pipeline, topic_base: str) -> int:
    """Records on a topic (end minus start offsets over its partitions)."""
    consumer = Consumer({"bootstrap.servers": pipeline.settings.kafka_bootstrap, "group.id": "size-probe"})
    try:
        topic = pipeline.topic(topic_base)
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(high - low for low, high in
                   (consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts))
    finally:
        consumer.close()


def read_all(pipeline, topic_base: str) -> list:
    """Every record of a topic, oldest first per partition (a group-less read)."""
    consumer = Consumer({"bootstrap.servers": pipeline.settings.kafka_bootstrap, "group.id": "reader",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    topic = pipeline.topic(topic_base)
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    out, todo = [], {p for p, end in ends.items() if end > 0}
    while todo:
        for msg in consumer.consume(1000, 2.0):
            if msg.error():
                continue
            out.append(msg)
            if msg.offset() + 1 >= ends[msg.partition()]:
                todo.discard(msg.partition())
    consumer.close()
    return out


def lag(pipeline, group_base: str = "persister", topic_base: str = ACTIVITY) -> int:
    rows = group_lag(build_admin(pipeline.settings), pipeline.group(group_base), pipeline.topic(topic_base))
    return sum(r.messages for r in rows)


def committed_total(pipeline, group_base: str = "persister", topic_base: str = ACTIVITY) -> int:
    rows = group_lag(build_admin(pipeline.settings), pipeline.group(group_base), pipeline.topic(topic_base))
    return sum(max(r.committed, 0) for r in rows)


def start(pipeline, module: str, tmp_path, **env):
    proc = start_processor(module, env={**pipeline.env, **env}, log_path=str(tmp_path / f"{module}.log"))
    pipeline.processes.append(proc)
    return proc
