"""The lag exporter against the real broker: a dead group's lag in messages and seconds, and
transactional topics (commit markers are not lag)."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from cli.processes import stop_processor, wait_until
from cli.produce import demo_event_list
from processors.lag_exporter.app import LagExporter
from processors.lag_exporter.rules import GroupLag
from processors.lag_exporter.settings import LagExporterSettings
from streams.topics import PUSH
from tests.integration.helpers import publish_events, start

pytestmark = pytest.mark.integration
PERSISTER = "processors.persister"


@pytest.fixture
def exporter(pipeline):
    s = pipeline.settings
    made = LagExporter.from_settings(
        LagExporterSettings(
            kafka_bootstrap=s.kafka_bootstrap,
            topic_prefix=s.topic_prefix,
            group_prefix=s.group_prefix,
            lag_probe_timeout_s=5,
        )
    )
    yield made
    made.close()


def group_lag(exporter: LagExporter, group: str) -> GroupLag | None:
    """The group as one collection reports it; None while the broker does not know it yet."""
    return next((g for g in exporter.collect().groups if g.group == group), None)


def caught_up(lag: GroupLag) -> bool:
    return lag.messages == 0 and lag.seconds == 0.0 and lag.members == 1


def test_given_a_stopped_group_then_lag_counts_every_new_event_and_ages_until_it_is_back(pipeline, exporter, tmp_path):
    group = pipeline.group("persister")
    publish_events(pipeline, demo_event_list(100, seed=501))
    persister = start(pipeline, PERSISTER, tmp_path)
    wait_until(
        lambda: (
            (lag := group_lag(exporter, group)) is not None
            and lag.partitions
            and lag.messages == 0
            and sum(p.position for p in lag.partitions) == 100
        ),
        60,
        what="the persister to commit 100 events",
    )

    # Given its only member stopped
    assert stop_processor(persister) == 0
    wait_until(lambda: group_lag(exporter, group).members == 0, 30, what="the group to lose its member")
    # When 200 events arrive
    publish_events(pipeline, demo_event_list(200, seed=502))

    # Then the exporter still reports the group: every event is lag, and the lag's age grows
    first = group_lag(exporter, group)
    assert (first.state, first.members, first.messages) == ("empty", 0, 200)
    assert all(p.seconds is not None for p in first.partitions if p.messages)
    wait_until(lambda: group_lag(exporter, group).seconds >= first.seconds + 1.0, 30, what="lag in seconds to grow")

    # When the member is back, then both return to 0
    start(pipeline, PERSISTER, tmp_path)
    wait_until(
        lambda: caught_up(group_lag(exporter, group)), 60, what="lag 0 in messages and seconds after the restart"
    )
    assert group_lag(exporter, group).state == "stable"


def produce_in_transaction(pipeline, topic: str, n: int) -> dict[int, int]:
    """Commits ``n`` records in one transaction; returns the last offset per partition."""
    producer = Producer(
        {
            "bootstrap.servers": pipeline.settings.kafka_bootstrap,
            "transactional.id": f"{pipeline.group('lag-test')}-txn",
        }
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    last: dict[int, int] = {}
    for i in range(n):
        producer.produce(
            topic,
            b"v",
            f"k{i}".encode(),
            on_delivery=lambda err, msg: last.__setitem__(
                msg.partition(), max(last.get(msg.partition(), -1), msg.offset())
            ),
        )
    producer.commit_transaction(30)
    return last


def commit(pipeline, group_base: str, offsets: dict[tuple[str, int], int]) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": pipeline.settings.kafka_bootstrap,
            "group.id": pipeline.group(group_base),
            "enable.auto.commit": False,
        }
    )
    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
    consumer.close()


def test_given_a_transactional_topic_then_the_commit_marker_is_not_lag_but_an_unread_record_is(pipeline, exporter):
    topic = pipeline.topic(PUSH)
    last = produce_in_transaction(pipeline, topic, 20)
    # Given one group that read everything (it commits the offset after its last record: the marker's) ...
    commit(pipeline, "caught-up", {(topic, p): o + 1 for p, o in last.items()})
    # ... and one that has not read the last record of each partition
    commit(pipeline, "one-behind", {(topic, p): o for p, o in last.items()})

    groups = {g.group: g for g in exporter.collect().groups}
    caught_up, behind = groups[pipeline.group("caught-up")], groups[pipeline.group("one-behind")]

    written = [p for p in caught_up.partitions if p.partition in last]
    assert written and all(p.end - p.position == 1 for p in written), "the marker should sit between position and end"
    assert (caught_up.messages, caught_up.seconds) == (0, 0.0)
    # lag in messages counts offsets, as Burrow and kminion do: the unread record and the marker after it
    assert all(p.messages == 2 and p.seconds is not None for p in behind.partitions if p.partition in last)
    assert behind.messages == 2 * len(last)
