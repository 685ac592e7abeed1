"""The layout of a local KRaft cluster of several nodes, and each node's config (pure: no I/O).

Every node runs both roles (broker and controller), from the same jars and the same template
(deploy/kafka/server.properties) as the single-node stack, so three JVMs make three brokers *and* a
three-voter controller quorum: one node down leaves two brokers for every partition's in-sync
replicas and two voters for the quorum's majority. Node 1 keeps the single node's addresses
(127.0.0.1:9092, controller 9093), so the default bootstrap ``127.0.0.1:9092`` still reaches the
cluster; node N listens on base + 2(N-1) and its controller on the port after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from streams.replication import replication_for

BASE_PORT = 9092
MAX_NODES = 3  # node 4 would want 9098/9099, the FCM emulator's port


@dataclass(frozen=True)
class KafkaNode:
    """One node of the cluster: its id and its client and controller ports on 127.0.0.1."""

    node_id: int
    port: int
    controller_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def controller(self) -> str:
        return f"127.0.0.1:{self.controller_port}"


def cluster_layout(nodes: int, base_port: int = BASE_PORT) -> list[KafkaNode]:
    """Nodes 1..``nodes``: node N on ``base_port`` + 2(N-1), its controller on the next port."""
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"the local stack runs 1 to {MAX_NODES} Kafka nodes, not {nodes}")
    return [KafkaNode(n, base_port + 2 * (n - 1), base_port + 2 * (n - 1) + 1) for n in range(1, nodes + 1)]


def quorum_leader(states: Iterable[Mapping]) -> int | None:
    """The active controller from the running voters' ``quorum-state`` files (``leaderId``,
    ``leaderEpoch``): the leader of the highest epoch any of them recorded, or None. The broker API has no
    answer: DescribeCluster answered by a KRaft broker names a random broker, and ``kafka-metadata-quorum``
    is in kafka-tools, not in the broker's jar set."""
    known = [s for s in states if s.get("leaderId", -1) >= 0]
    return max(known, key=lambda s: s.get("leaderEpoch", -1))["leaderId"] if known else None


def bootstrap_list(layout: list[KafkaNode]) -> str:
    """Every node's address, comma-separated: what clients should be given so any one node suffices."""
    return ",".join(node.address for node in layout)


def node_config(template: str, node: KafkaNode, layout: list[KafkaNode], data_dir: str) -> str:
    """The template with this node's id, listeners, data dir and the cluster's controller voters, and
    the internal topics' replication for the cluster's size (``streams.replication``): on one node the
    template's own values, on three a replication factor of 3 and min.insync.replicas 2 for consumer
    offsets, transaction state and share-group state, and as the default for any other topic."""
    replication = replication_for(len(layout))
    factor, min_isr = str(replication.factor), str(replication.min_insync)
    settings = {
        "node.id": str(node.node_id),
        "controller.quorum.voters": ",".join(f"{n.node_id}@{n.controller}" for n in layout),
        "listeners": f"PLAINTEXT://{node.address},CONTROLLER://{node.controller}",
        "advertised.listeners": f"PLAINTEXT://{node.address}",
        "log.dirs": data_dir,
        "default.replication.factor": factor,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": factor,
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": factor,
        "share.coordinator.state.topic.min.isr": min_isr,
    }
    for key, value in settings.items():
        template = set_property(template, key, value)
    return template


def set_property(text: str, key: str, value: str) -> str:
    """``key=value`` in a .properties text: the existing line replaced, or a line appended."""
    line = re.compile(rf"^{re.escape(key)}\s*=.*$", re.MULTILINE)
    if line.search(text):
        return line.sub(lambda _: f"{key}={value}", text, count=1)
    return text.rstrip("\n") + f"\n{key}={value}\n"


def read_property(text: str, key: str) -> str | None:
    """The value of ``key`` in a .properties text, or None."""
    found = re.search(rf"^{re.escape(key)}\s*=(.*)$", text, re.MULTILINE)
    return found.group(1).strip() if found else None
