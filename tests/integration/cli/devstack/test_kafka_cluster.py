"""`herald dev up --brokers 3`'s Kafka (cli.devstack.kafka_cluster) in a state dir and on ports of its own,
never the shared stack's: three nodes form one cluster, `herald topics create` gives every topic three
replicas and min.insync.replicas 2, status has a row per node and the bootstrap list, `up` again keeps
the running nodes, `down` stops them; a state dir holding three nodes refuses one."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from cli.devstack import kafka_cluster
from cli.devstack.errors import DevstackError
from cli.devstack.kafka_nodes import cluster_layout
from streams.admin import create_topics
from streams.clients import build_admin
from streams.settings import KafkaSettings
from streams.topics import ACTIVITY, topic_specs
from tests.ports import port_open

pytestmark = pytest.mark.integration


def _free_base() -> int:
    """Six consecutive free ports (three nodes, a controller port each)."""
    for base in range(19292, 19900, 8):
        if not any(port_open(p) for p in range(base, base + 6)):
            return base
    raise RuntimeError("no six consecutive free ports in 19292..19900")


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("HERALD_STATE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def cluster(state):
    base = _free_base()
    layout = cluster_layout(3, base)
    try:
        bootstrap = kafka_cluster.cluster_up(3, base)
        yield bootstrap, layout
    finally:
        kafka_cluster.cluster_down(layout)


def test_three_nodes_form_one_cluster_with_replicated_topics(cluster, state):
    bootstrap, layout = cluster
    assert bootstrap == ",".join(f"127.0.0.1:{n.port}" for n in layout)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    assert set(admin.list_topics(timeout=10).brokers) == {1, 2, 3}

    # herald topics create: replication factor 3, min.insync.replicas 2
    settings = KafkaSettings(kafka_bootstrap=f"127.0.0.1:{layout[0].port}", topic_prefix="t.")
    create_topics(build_admin(settings), settings, topic_specs())
    topic = settings.topic(ACTIVITY)
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    assert {len(p.replicas) for p in partitions.values()} == {3}
    [config] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    assert config.result(10)["min.insync.replicas"].value == "2"
    # ... and Kafka's own offsets topic too (the node configs)
    offsets = admin.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"].partitions
    assert {len(p.replicas) for p in offsets.values()} == {3}

    # status: the cluster's bootstrap list, then one row per node, one of them the active controller
    rows = kafka_cluster.cluster_status(layout)
    assert (rows[0].name, rows[0].up, rows[0].address) == ("kafka", True, bootstrap)
    assert [(r.name, r.up, r.address) for r in rows[1:]] == [
        (f"kafka node {n.node_id}", True, f"127.0.0.1:{n.port}") for n in layout
    ]
    assert sum("active controller" in r.detail for r in rows[1:]) == 1

    # up again keeps the running nodes; the state dir now holds a three-node cluster
    pids = [r.detail.split(",")[0] for r in rows[1:]]
    kafka_cluster.cluster_up(3, layout[0].port)
    assert [r.detail.split(",")[0] for r in kafka_cluster.cluster_status(layout)[1:]] == pids
    assert kafka_cluster.existing_nodes() == 3
    with pytest.raises(DevstackError, match=r"holds a 3-node Kafka cluster.*rm -rf"):
        kafka_cluster.choose_nodes(1, kafka_cluster.existing_nodes(), state / "kafka")
