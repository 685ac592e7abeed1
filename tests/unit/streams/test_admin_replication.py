"""``create_topics`` (streams/admin.py) sizes each new topic's replication by the brokers the metadata
call lists: replication factor min(3, brokers) and min.insync.replicas 2 on three brokers, 1 on one."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from streams.admin import create_topics
from streams.settings import KafkaSettings
from streams.topics import TopicSpec

SPECS = [TopicSpec("a.v1", 12, {"retention.ms": "1000"}), TopicSpec("b.v1", 1, {"min.insync.replicas": "1"})]


class FakeAdmin:
    """Metadata with ``brokers`` brokers and no topics; records what ``create_topics`` asked for."""

    def __init__(self, brokers: int) -> None:
        self.brokers = {n: object() for n in range(1, brokers + 1)}
        self.created: dict[str, object] = {}

    def list_topics(self, timeout=None):
        topics = {name: SimpleNamespace(partitions={0: SimpleNamespace(leader=1)}) for name in self.created}
        return SimpleNamespace(brokers=self.brokers, topics=topics)

    def create_topics(self, new_topics, **_):
        futures = {}
        for topic in new_topics:
            self.created[topic.topic] = topic
            futures[topic.topic] = Future()
            futures[topic.topic].set_result(None)
        return futures


@pytest.mark.parametrize(("brokers", "factor", "min_insync"), [(1, 1, "1"), (2, 2, "1"), (3, 3, "2"), (4, 3, "2")])
def test_new_topics_get_the_replication_of_the_cluster_size(brokers, factor, min_insync):
    admin = FakeAdmin(brokers)
    result = create_topics(admin, KafkaSettings(topic_prefix="t."), SPECS)

    assert result == {"t.a.v1": "created", "t.b.v1": "created"}
    a = admin.created["t.a.v1"]
    assert (a.num_partitions, a.replication_factor) == (12, factor)
    assert a.config == {"min.insync.replicas": min_insync, "retention.ms": "1000"}


def test_a_spec_that_sets_its_own_min_insync_replicas_keeps_it():
    admin = FakeAdmin(3)
    create_topics(admin, KafkaSettings(topic_prefix="t."), SPECS)
    assert admin.created["t.b.v1"].config == {"min.insync.replicas": "1"}
    assert admin.created["t.b.v1"].replication_factor == 3
