"""Kafka of several nodes for `herald dev up --brokers 3`: three KRaft nodes, each broker and
controller, from the same jars and template as the single node (layout and configs:
``cli.devstack.kafka_nodes``), with their data under the state dir's kafka/node-N/.

A state dir holds one kind of Kafka: the single node (kafka/data) or a cluster (kafka/node-N/data).
`up` with no --brokers keeps whichever the state dir has (so `make test`'s plain `herald dev up` reuses
a cluster); asking for the other refuses and says how to start over, because turning one into the other
means formatting new storage, which loses every topic and committed offset
(docs/decisions/0220-replication-and-the-local-cluster.md). Each node is a service of its own in
devstack.json (``kafka-N``: pid file, log, `down` stops it); the ``kafka-cluster`` record keeps the size
and ports, so `status` and `down` find the nodes again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cli.devstack import kafka as single
from cli.devstack.errors import DevstackError, _failure
from cli.devstack.kafka_nodes import BASE_PORT, KafkaNode, bootstrap_list, cluster_layout, node_config, quorum_leader
from cli.devstack.paths import DEPLOY_DIR, _logs_dir
from cli.devstack.process import (
    _load_state,
    _pid_running,
    _port_open,
    _process_alive,
    _read_pid,
    _start_process,
    _stop_process,
    _update_state,
)
from cli.devstack.report import ServiceStatus, _say

CLUSTER_RECORD = "kafka-cluster"


def _node_dir(node_id: int) -> Path:
    return single._kafka_state() / f"node-{node_id}"


def _node_logs(node_id: int) -> Path:
    path = _logs_dir() / f"kafka-node-{node_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _service(node_id: int) -> str:
    return f"kafka-{node_id}"


def existing_nodes() -> int | None:
    """How many nodes the state dir's Kafka storage was formatted for; None if it holds none."""
    if (single._kafka_data_dir() / "meta.properties").exists():
        return 1
    formatted = list(single._kafka_state().glob("node-*/data/meta.properties"))
    if formatted:
        return int(_load_state().get(CLUSTER_RECORD, {}).get("nodes") or len(formatted))
    return None


def choose_nodes(requested: int | None, existing: int | None, where: Path) -> int:
    """The size `up` runs: the one asked for, else the one the state dir holds, else a single node.
    Refuses a size other than the formatted one (the message says how to start over)."""
    if requested is None:
        return existing or 1
    if existing is not None and existing != requested:
        kind = "a single Kafka node" if existing == 1 else f"a {existing}-node Kafka cluster"
        raise DevstackError(
            f"kafka: {where} holds {kind}; running {requested} would format new storage and lose its topics "
            f"and offsets. To start over: `herald dev down`, `rm -rf {where}`, then "
            f"`herald dev up --brokers {requested}`. To keep it: `herald dev up --brokers {existing}` "
            "(or without --brokers)."
        )
    return requested


def layout_in_use() -> list[KafkaNode] | None:
    """The cluster's nodes as `up` recorded them, or None for the single node."""
    record = _load_state().get(CLUSTER_RECORD)
    if not record or existing_nodes() in (None, 1):
        return None
    return cluster_layout(int(record["nodes"]), int(record.get("base_port", BASE_PORT)))


def cluster_up(nodes: int, base_port: int = BASE_PORT, timeout_s: float = single.KAFKA_READY_TIMEOUT_S) -> str:
    """Makes sure every node runs and is a broker of the cluster, then waits for the coordinators;
    returns the bootstrap list. Nodes already running are kept; stopped ones start on their data."""
    layout = cluster_layout(nodes, base_port)
    bootstrap = bootstrap_list(layout)
    _update_state(CLUSTER_RECORD, {"nodes": nodes, "base_port": base_port, "bootstrap": bootstrap})
    started = time.monotonic()
    to_start = [n for n in layout if not _process_alive(_service(n.node_id))]
    if not to_start:
        _say(f"kafka: {nodes} nodes already up at {bootstrap}")
    else:
        single._ensure_kafka_jars()
        for node in to_start:
            _start_node(node, layout)
        _wait_registered(layout, timeout_s)
        _say(f"kafka: {nodes} nodes up at {bootstrap} ({time.monotonic() - started:.1f} s)")
    single.kafka_coordinators_ready(bootstrap)
    return bootstrap


def _start_node(node: KafkaNode, layout: list[KafkaNode]) -> None:
    """Writes the node's config (every start, as the single node does), formats its storage the first
    time, and starts it without waiting: no node answers until a majority of voters runs."""
    busy = [a for a in (node.address, node.controller) if _port_open("127.0.0.1", int(a.rsplit(":", 1)[1]))]
    if busy:
        raise DevstackError(f"kafka: node {node.node_id}'s {', '.join(busy)} already in use; see `ss -ltnp`")
    home = _node_dir(node.node_id)
    data = home / "data"
    config = home / "server.properties"
    config.parent.mkdir(parents=True, exist_ok=True)
    template = (DEPLOY_DIR / "kafka" / "server.properties").read_text()
    config.write_text(node_config(template, node, layout, str(data)))
    logs = _node_logs(node.node_id)
    if not (data / "meta.properties").exists():
        _say(f"kafka: formatting node {node.node_id}'s storage…")
        single.format_kafka_storage(config, single._kafka_cluster_id(), cwd=home, logs_dir=logs)
    _say(f"kafka: starting node {node.node_id} at {node.address}…")
    _start_process(
        _service(node.node_id),
        single.kafka_broker_argv(config, logs_dir=logs),
        logs / "kafka.out",
        ready=lambda: True,
        timeout=single.KAFKA_READY_TIMEOUT_S,
    )


def _wait_registered(layout: list[KafkaNode], timeout_s: float) -> None:
    """Until the metadata lists every node as a broker; a node that exits ends the wait with its log."""
    wanted = {n.node_id for n in layout}
    deadline = time.monotonic() + timeout_s
    while True:
        for node in layout:
            # The pid, not _process_alive: right after the fork /proc/PID/cmdline is still Python's, not
            # the java command line recorded for it.
            pid = _read_pid(_service(node.node_id))
            if pid is None or not _pid_running(pid):
                raise _failure(f"kafka: node {node.node_id} exited before the cluster formed", _logs_of(node))
        if _registered(bootstrap_list(layout)) >= wanted:
            return
        if time.monotonic() > deadline:
            for node in layout:
                _stop_process(_service(node.node_id))
            raise _failure(f"kafka: the {len(layout)} nodes did not form a cluster within {timeout_s:.0f} s", [])
        time.sleep(0.5)


def _logs_of(node: KafkaNode) -> list[Path]:
    logs = _node_logs(node.node_id)
    return [logs / "kafka.out", logs / "kafka-server.log"]


def _registered(bootstrap: str, timeout: float = 2.0) -> set[int]:
    """Broker ids the metadata lists, asked of ``bootstrap``; empty if nothing answers."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    addresses = [a.rsplit(":", 1) for a in bootstrap.split(",")]
    if not any(_port_open(host, int(port)) for host, port in addresses):
        return set()
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "logger": single._silent_logger(),
        "reconnect.backoff.max.ms": 500,
    }
    admin = AdminClient(config)
    try:
        return set(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return set()


def cluster_down(layout: list[KafkaNode]) -> None:
    """Stops the nodes we started (SIGTERM: each moves its leaderships away first); data stays."""
    for node in reversed(layout):  # node 1 last: it holds the default bootstrap address
        if _stop_process(_service(node.node_id)):
            _say(f"kafka: node {node.node_id} stopped")
        else:
            _say(f"kafka: node {node.node_id} was not running")


def read_quorum_state(data_dir: Path) -> dict:
    """A voter's last persisted view of the quorum (``leaderId``, ``leaderEpoch``), or {}."""
    try:
        return json.loads((data_dir / "__cluster_metadata-0" / "quorum-state").read_text())
    except (OSError, ValueError):
        return {}


def active_controller(layout: list[KafkaNode]) -> int | None:
    """The active controller as the running nodes last recorded it (``kafka_nodes.quorum_leader``)."""
    return quorum_leader(
        read_quorum_state(_node_dir(node.node_id) / "data") for node in layout if _process_alive(_service(node.node_id))
    )


def cluster_status(layout: list[KafkaNode]) -> list[ServiceStatus]:
    """A row for the cluster (its bootstrap list) and one per node (its address, pid, and which node is
    the active controller)."""
    bootstrap = bootstrap_list(layout)
    registered = _registered(bootstrap, timeout=1.5)
    controller = active_controller(layout)
    rows = [
        ServiceStatus(
            "kafka",
            bool(registered),
            bootstrap,
            str(_node_logs(1) / "kafka-server.log"),
            f"{len(layout)} nodes (broker+controller each), {len(registered)} answering",
        )
    ]
    for node in layout:
        pid = _process_alive(_service(node.node_id))
        detail = ", ".join(
            part
            for part in (
                f"pid {pid}" if pid else "not running",
                f"controller {node.controller}",
                "active controller" if controller == node.node_id else "",
            )
            if part
        )
        rows.append(
            ServiceStatus(
                f"kafka node {node.node_id}",
                node.node_id in registered and pid is not None,
                node.address,
                str(_node_logs(node.node_id) / "kafka-server.log"),
                detail,
            )
        )
    return rows
