"""Small helpers of the integration tests: produce, count, read lag and dead letters."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from sqlalchemy import create_engine, text

from cli.processes import start_processor
from streams.admin import group_lag
from streams.messages import ActivityEvent
from streams.producer import ActivityPublisher
from streams.settings import ProducerSettings
from streams.topics import ACTIVITY


def publish_events(pipeline, events: list[ActivityEvent]) -> None:
    """Publishes through the producer SDK and waits for every acknowledgement."""
    settings = ProducerSettings(
        kafka_bootstrap=pipeline.settings.kafka_bootstrap, topic_prefix=pipeline.settings.topic_prefix
    )
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
        n = conn.execute(
            text("SELECT count(*) FROM activity_events WHERE event_id = ANY(:ids)"), {"ids": list(event_ids)}
        ).scalar_one()
    engine.dispose()
    return n


def topic_size(pipeline, topic_base: str) -> int:
    """Records on a topic (end minus start offsets over its partitions)."""
    consumer = Consumer({"bootstrap.servers": pipeline.settings.kafka_bootstrap, "group.id": "size-probe"})
    try:
        topic = pipeline.topic(topic_base)
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            high - low
            for low, high in (consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts)
        )
    finally:
        consumer.close()


def read_all(pipeline, topic_base: str, timeout: float = 60.0) -> list:
    """Every committed record of a topic, oldest first per partition (a group-less, read-committed read).

    Done when each partition's position reaches its end offset; the position, not the last record's
    offset, because a transactional topic ends with a commit marker that is never delivered.
    """
    import time

    consumer = Consumer(
        {
            "bootstrap.servers": pipeline.settings.kafka_bootstrap,
            "group.id": "reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    topic = pipeline.topic(topic_base)
    parts = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
    marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts}
    ends = {p: high for p, (low, high) in marks.items() if high > low}
    assigned = [TopicPartition(topic, p, marks[p][0]) for p in ends]
    consumer.assign(assigned)
    out, deadline = [], time.monotonic() + timeout
    while assigned and any(pos.offset < ends[pos.partition] for pos in consumer.position(assigned)):
        out += [m for m in consumer.consume(1000, 0.5) if not m.error()]
        assert time.monotonic() < deadline, f"could not read {topic} to its end"
    consumer.close()
    return out


def lag(pipeline, group_base: str = "persister", topic_base: str = ACTIVITY) -> int:
    """The group's lag from the broker; -1 when the broker answers with a transient error (a leader
    moving while other tests create and delete topics), so ``wait_until(lag == 0)`` asks again."""
    try:
        rows = group_lag(pipeline.settings, pipeline.group(group_base), pipeline.topic(topic_base))
    except KafkaException:
        return -1
    return sum(r.messages for r in rows)


def committed_total(pipeline, group_base: str = "persister", topic_base: str = ACTIVITY) -> int:
    rows = group_lag(pipeline.settings, pipeline.group(group_base), pipeline.topic(topic_base))
    return sum(max(r.committed, 0) for r in rows)


def start(pipeline, module: str, tmp_path, **env):
    proc = start_processor(module, env={**pipeline.env, **env}, log_path=str(tmp_path / f"{module}.log"))
    pipeline.processes.append(proc)
    return proc


def publish_directory(pipeline, changes) -> None:
    """DirectoryChange records (or (key, None) tombstones) on the pipeline's directory topic."""
    from streams.messages import DIRECTORY_CHANGE
    from streams.serde import AvroSerde, SchemaStore
    from streams.topics import DIRECTORY

    serde = AvroSerde(DIRECTORY_CHANGE, SchemaStore())
    produce_raw(
        pipeline, DIRECTORY, [(c.key, serde.encode(c.to_avro())) if not isinstance(c, tuple) else c for c in changes]
    )


def set_preferences(pipeline, rows: list[dict]) -> None:
    """rows: user_id, push_enabled, min_push_priority, quiet_hours_start/end, timezone, enabled_types."""
    from processors.catalogue import DEFAULT_ENABLED_TYPES

    engine = create_engine(pipeline.settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notification_preferences (user_id, push_enabled, email_enabled, enabled_types, "
                "min_push_priority, quiet_hours_start, quiet_hours_end, timezone) VALUES (:user_id, :push_enabled, false, "
                ":enabled_types, :min_push_priority, :quiet_hours_start, :quiet_hours_end, :timezone) "
                "ON CONFLICT (user_id) DO NOTHING"
            ),
            [
                {
                    "push_enabled": True,
                    "min_push_priority": "HIGH",
                    "quiet_hours_start": None,
                    "quiet_hours_end": None,
                    "timezone": None,
                    "enabled_types": sorted(DEFAULT_ENABLED_TYPES),
                    **r,
                }
                for r in rows
            ],
        )
    engine.dispose()


def query(pipeline, sql: str, **params) -> list:
    engine = create_engine(pipeline.settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    engine.dispose()
    return rows


def decode_pushes(messages) -> list:
    from streams.messages import PUSH_REQUEST, PushRequest
    from streams.serde import AvroSerde, SchemaStore

    serde = AvroSerde(PUSH_REQUEST, SchemaStore())
    return [PushRequest.from_avro(serde.decode(m.value())) for m in messages]
