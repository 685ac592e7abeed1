"""The transactional checkpoint on the real broker: batches with outputs commit their offsets in a Kafka
transaction, batches without in a plain offset commit; mixed in one group, the group's committed offset
is always the last batch's (the coordinator does not apply a transaction's offsets over a later plain
commit), and the outputs are visible to read-committed readers. Held plain commits
(HERALD_COMMIT_INTERVAL_MS) reach the broker only when committed, and never behind a transaction's."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from confluent_kafka import TopicPartition

from cli.processes import wait_until
from streams.admin import create_topics, delete_topics
from streams.checkpoint import Checkpoint
from streams.clients import build_admin, build_consumer, build_producer
from streams.records import Outcome, Output
from streams.settings import KafkaSettings
from streams.topics import ACTIVITY, PUSH, topic_specs


@contextmanager
def broker_checkpoint(services, name: str, **checkpoint_options):
    """A one-partition source and push topic, a consumer assigned to the source and a transactional
    checkpoint on them; yields (checkpoint, the group's committed offset, source topic, output topic, settings)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = KafkaSettings(
        kafka_bootstrap=services.kafka_bootstrap, topic_prefix=f"{prefix}.", group_prefix=f"{prefix}-"
    )
    admin, specs = build_admin(settings), topic_specs(partitions=1)
    create_topics(admin, settings, specs)
    source, out = settings.topic(ACTIVITY), settings.topic(PUSH)
    consumer = build_consumer(settings, name)
    producer = build_producer(settings, transactional_id=f"{prefix}-{name}-0")
    try:
        consumer.assign([TopicPartition(source, 0, 0)])
        checkpoint = Checkpoint(
            consumer=consumer,
            producer=producer,
            sink=None,
            dlq_topic_of=lambda t: t,
            transactional=True,
            **checkpoint_options,
        )
        committed = lambda: consumer.committed([TopicPartition(source, 0)], timeout=10)[0].offset  # noqa: E731
        yield checkpoint, committed, source, out, settings
    finally:
        consumer.close()
        delete_topics(admin, settings, specs)


def test_given_batches_with_and_without_outputs_then_each_commits_its_offsets_and_the_last_commit_wins(services):
    with broker_checkpoint(services, "checkpoint") as (checkpoint, committed, source, out, settings):
        with_output = Outcome(outputs=[Output(out, b"k", b"v")])

        for offset, outcome in [(1, with_output), (2, Outcome()), (3, Outcome()), (4, with_output), (5, Outcome())]:
            checkpoint.commit(outcome, [TopicPartition(source, 0, offset)])
            # read committed: a transaction's offsets count once it committed, and a plain commit
            # right after it is not overwritten when its markers land
            assert committed() == offset

        wait_until(lambda: _read_committed(settings, out) == 2, 30, interval=0.2, what="both outputs")


def test_given_held_plain_commits_then_the_broker_sees_them_only_when_committed_and_never_behind_a_transaction(
    services,
):
    with broker_checkpoint(services, "held", commit_interval_s=3600.0) as (checkpoint, committed, source, out, _):
        checkpoint.commit(Outcome(), [TopicPartition(source, 0, 1)])
        checkpoint.commit(Outcome(), [TopicPartition(source, 0, 2)])
        assert committed() < 0  # held: nothing committed for the group yet
        checkpoint.commit_held()
        assert committed() == 2

        checkpoint.commit(Outcome(), [TopicPartition(source, 0, 3)])  # held
        checkpoint.commit(Outcome(outputs=[Output(out, b"k", b"v")]), [TopicPartition(source, 0, 4)])
        assert committed() == 4  # the transaction's offsets, at once
        checkpoint.commit_held()
        assert committed() == 4  # the held 3 was dropped, not committed over the transaction's 4


def _read_committed(settings: KafkaSettings, topic: str) -> int:
    reader = build_consumer(settings, f"reader-{uuid.uuid4().hex[:6]}")
    try:
        reader.assign([TopicPartition(topic, 0, 0)])
        return len([m for m in reader.consume(10, 2.0) if not m.error()])
    finally:
        reader.close()
