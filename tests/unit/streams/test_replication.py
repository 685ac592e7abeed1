"""The replication rule (streams/replication.py): min(3, brokers) copies, two must acknowledge from three on."""

from __future__ import annotations

import pytest

from streams.replication import Replication, replication_for


@pytest.mark.parametrize(
    ("brokers", "expected"),
    [(1, Replication(1, 1)), (2, Replication(2, 1)), (3, Replication(3, 2)), (5, Replication(3, 2))],
)
def test_replication_factor_is_min_3_brokers_and_min_insync_2_from_three_brokers(brokers, expected):
    assert replication_for(brokers) == expected


def test_the_topic_config_carries_min_insync_replicas():
    assert replication_for(3).topic_config() == {"min.insync.replicas": "2"}


def test_a_cluster_without_brokers_is_refused():
    with pytest.raises(ValueError, match="at least one broker"):
        replication_for(0)
