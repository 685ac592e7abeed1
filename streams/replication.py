"""How many copies of each partition a cluster of N brokers keeps, and how many must acknowledge a write.

One rule for both places that need it: ``create_topics`` (Herald's topics) and the local stack's broker
configs (Kafka's internal topics: consumer offsets, transaction state), so a group's offsets and a
fan-out's transactions survive exactly what its input and output topics survive
(docs/decisions/0220-replication-and-the-local-cluster.md).

Three copies at most: a fourth adds disk and replication traffic but no failure tolerated that the
producer's ``acks=all`` with ``min.insync.replicas`` 2 does not already cover. With three brokers,
``min.insync.replicas`` 2 means an acknowledged record is on two brokers, and one broker down (killed,
or restarted in a rolling restart) never stops writes. With fewer brokers there is no second copy to
insist on: 1.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_REPLICAS = 3


@dataclass(frozen=True)
class Replication:
    """A topic's replication factor and its ``min.insync.replicas``."""

    factor: int
    min_insync: int

    def topic_config(self) -> dict[str, str]:
        """The per-topic config that goes with ``factor`` at topic creation."""
        return {"min.insync.replicas": str(self.min_insync)}


def replication_for(brokers: int) -> Replication:
    """The replication of every topic on a cluster of ``brokers`` brokers."""
    if brokers < 1:
        raise ValueError(f"a cluster has at least one broker, not {brokers}")
    factor = min(MAX_REPLICAS, brokers)
    return Replication(factor, 2 if factor >= MAX_REPLICAS else 1)
