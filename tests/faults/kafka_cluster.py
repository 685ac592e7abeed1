"""A three-node KRaft cluster the fault suite may kill, node by node: its own ports and data, never the
shared stack's.

Each node runs both roles (broker and controller), from the jars ``herald dev up`` caches and the node
configs ``herald dev up --brokers 3`` writes (``cli.devstack.kafka_nodes.node_config``), on ports free
when the suite starts. ``start()`` of one node returns once it answers metadata and is back in the
cluster (the metadata lists every node again); ``wait_in_sync()`` once every replica of every partition
is in sync again, which is what a rolling restart waits for before the next node.

The active controller is read from the voters' ``quorum-state`` files: ``kafka-metadata-quorum`` lives in
kafka-tools, which the broker's jar set does not include, and DescribeCluster answered by a KRaft
broker names a random broker, not the controller.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from cli.devstack import kafka as devkafka
from cli.devstack.kafka_cluster import read_quorum_state
from cli.devstack.kafka_nodes import KafkaNode, bootstrap_list, node_config, quorum_leader
from cli.devstack.paths import DEPLOY_DIR
from cli.processes import wait_until
from tests.faults.cluster import _quiet_logger, committed_offsets
from tests.ports import free_port, port_open


class FaultNode:
    """One node: start on its data dir, SIGKILL, or SIGTERM (a controlled shutdown)."""

    def __init__(self, root: Path, node: KafkaNode, layout: list[KafkaNode]) -> None:
        self.root, self.node, self.layout = root, node, layout
        self.proc: subprocess.Popen | None = None
        self.logs = root / "logs"

    @property
    def node_id(self) -> int:
        return self.node.node_id

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    def format(self, cluster_id: str) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        template = (DEPLOY_DIR / "kafka" / "server.properties").read_text()
        self.config.write_text(node_config(template, self.node, self.layout, str(self.data_dir)))
        devkafka.format_kafka_storage(self.config, cluster_id, cwd=self.root, logs_dir=self.logs)

    def spawn(self) -> None:
        for port in (self.node.port, self.node.controller_port):
            if port_open(port):
                raise RuntimeError(f"port {port} is taken; is an earlier fault node still running?")
        with open(self.logs / "kafka.out", "ab") as out:
            self.proc = subprocess.Popen(
                devkafka.kafka_broker_argv(self.config, logs_dir=self.logs),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.root,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, no leader moved away first, no flush."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        wait_until(lambda: not port_open(self.node.port), 30, what=f"node {self.node_id}'s port to close")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM: the broker moves its leaderships away and the controller role is handed on first."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class FaultKafkaCluster:
    """Three nodes under ``root``; ``bootstrap`` lists all three, so clients reach whichever is up."""

    def __init__(self, root: Path, nodes: int = 3) -> None:
        self.root = root
        layout = [KafkaNode(n, free_port(), free_port()) for n in range(1, nodes + 1)]
        self.nodes = [FaultNode(root / f"node-{n.node_id}", n, layout) for n in layout]
        self.bootstrap = bootstrap_list(layout)

    def node(self, node_id: int) -> FaultNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    # -- life cycle -----------------------------------------------------------------------------------

    def format(self) -> None:
        devkafka._ensure_kafka_jars()
        cluster_id = devkafka.new_cluster_id()
        for node in self.nodes:
            node.format(cluster_id)

    def start(self, timeout: float = 180.0) -> float:
        """Every node started at once (a quorum needs a majority of voters up to elect a controller);
        returns once all are brokers of the cluster and both coordinators answer."""
        from cli.devstack.coordinators import wait_for_coordinators

        started = time.monotonic()
        for node in self.nodes:
            node.spawn()
        self._wait(lambda: self.registered() == {n.node_id for n in self.nodes}, timeout, "every node registered")
        wait_for_coordinators(self.bootstrap, max(timeout - (time.monotonic() - started), 5.0))
        return time.monotonic() - started

    def start_node(self, node_id: int, timeout: float = 120.0) -> float:
        """One node started again on its data; returns once it answers metadata itself and the cluster's
        metadata lists it again (a killed node stays listed until its broker session expires)."""
        started = time.monotonic()
        node = self.node(node_id)
        node.spawn()
        self._wait(
            lambda: node_id in self.registered(node.node.address) and node_id in self.registered(),
            timeout,
            f"node {node_id} registered again",
        )
        return time.monotonic() - started

    def stop(self) -> None:
        """Every node at once: one by one, the last would wait for a quorum that is gone."""
        for node in self.nodes:
            if node.alive():
                assert node.proc is not None
                os.killpg(node.proc.pid, signal.SIGTERM)
        for node in self.nodes:
            node.stop(timeout=30)

    def _wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            dead = [n.node_id for n in self.nodes if n.proc is not None and n.proc.poll() is not None]
            try:
                if condition():
                    return
            except Exception:  # noqa: BLE001 - a node still starting answers with errors
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not within {timeout:.0f} s (exited: {dead}); see {self.root}/node-*/logs")
            time.sleep(0.5)

    # -- observing ------------------------------------------------------------------------------------

    def admin(self, bootstrap: str | None = None):
        from confluent_kafka.admin import AdminClient

        return AdminClient(
            {
                "bootstrap.servers": bootstrap or self.bootstrap,
                "logger": _quiet_logger(),
                "reconnect.backoff.max.ms": 500,
            }
        )

    def registered(self, bootstrap: str | None = None) -> set[int]:
        """The brokers the metadata lists (a killed broker drops out once its session expires)."""
        return set(self.admin(bootstrap).list_topics(timeout=5).brokers)

    def leader_counts(self, prefix: str = "") -> Counter[int]:
        """Partitions led by each node, over the topics starting with ``prefix`` (every topic: '')."""
        topics = self.admin().list_topics(timeout=10).topics
        return Counter(
            p.leader
            for name, t in topics.items()
            if name.startswith(prefix)
            for p in t.partitions.values()
            if p.leader >= 0
        )

    def busiest_leader(self, prefix: str = "") -> int:
        """The node leading most partitions of these topics (the lowest id on a tie)."""
        counts = self.leader_counts(prefix)
        return min(counts, key=lambda n: (-counts[n], n))

    def active_controller(self) -> int:
        """The quorum's leader as the running voters last recorded it (``kafka_nodes.quorum_leader``)."""
        leader = quorum_leader(read_quorum_state(n.data_dir) for n in self.nodes if n.alive())
        if leader is None:
            raise RuntimeError("no running voter has recorded a quorum leader")
        return leader

    def out_of_sync(self, prefix: str = "") -> int:
        """Partitions of these topics with a replica missing from the in-sync set (or no leader)."""
        topics = self.admin().list_topics(timeout=10).topics
        return sum(
            1
            for name, t in topics.items()
            if name.startswith(prefix)
            for p in t.partitions.values()
            if p.leader < 0 or set(p.isrs) != set(p.replicas)
        )

    def wait_in_sync(self, timeout: float = 120.0, prefix: str = "") -> float:
        """Returns (seconds waited) once every replica of every partition is in sync again."""
        started = time.monotonic()
        self._wait(lambda: self.out_of_sync(prefix) == 0, timeout, "every replica in sync")
        return time.monotonic() - started

    def committed(self, group: str, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """``Consumer.committed()`` of ``group``: what the cluster holds."""
        return committed_offsets(self.bootstrap, group, partitions)
