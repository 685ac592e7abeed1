"""The local cluster's layout and node configs (cli/devstack/kafka_nodes.py), rendered from the real template."""

from __future__ import annotations

import pytest

from cli.devstack.kafka_nodes import (
    bootstrap_list,
    cluster_layout,
    node_config,
    quorum_leader,
    read_property,
    set_property,
)
from cli.devstack.paths import DEPLOY_DIR

TEMPLATE = (DEPLOY_DIR / "kafka" / "server.properties").read_text()


def test_node_1_keeps_the_single_nodes_addresses_and_the_others_follow():
    layout = cluster_layout(3)
    assert [(n.node_id, n.port, n.controller_port) for n in layout] == [
        (1, 9092, 9093),
        (2, 9094, 9095),
        (3, 9096, 9097),
    ]
    assert bootstrap_list(layout) == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"


def test_a_base_port_moves_every_node():
    assert [n.port for n in cluster_layout(3, base_port=19192)] == [19192, 19194, 19196]


@pytest.mark.parametrize("nodes", [0, 4])
def test_sizes_outside_1_to_3_are_refused(nodes):
    with pytest.raises(ValueError, match="1 to 3"):
        cluster_layout(nodes)


def test_each_node_of_three_is_a_broker_and_a_voter_with_replicated_internal_topics():
    layout = cluster_layout(3)
    text = node_config(TEMPLATE, layout[1], layout, "/data/node-2")

    def prop(key: str) -> str | None:
        return read_property(text, key)

    assert prop("process.roles") == "broker,controller"
    assert prop("node.id") == "2"
    assert prop("controller.quorum.voters") == "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"
    assert prop("listeners") == "PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095"
    assert prop("advertised.listeners") == "PLAINTEXT://127.0.0.1:9094"
    assert prop("log.dirs") == "/data/node-2"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor"):
        assert prop(key) == "3", key
    for key in ("min.insync.replicas", "transaction.state.log.min.isr", "share.coordinator.state.topic.min.isr"):
        assert prop(key) == "2", key
    assert text.count("\nnode.id=") == 1  # replaced, not appended twice


def test_one_node_renders_the_templates_single_node_values():
    [node] = cluster_layout(1)
    text = node_config(TEMPLATE, node, [node], "/data")
    assert read_property(text, "controller.quorum.voters") == "1@127.0.0.1:9093"
    assert read_property(text, "offsets.topic.replication.factor") == "1"
    assert read_property(text, "min.insync.replicas") == "1"


def test_set_property_appends_a_key_the_text_lacks():
    assert set_property("a=1\n", "b", "2") == "a=1\nb=2\n"


def test_the_active_controller_is_the_leader_of_the_highest_epoch_recorded():
    stale, current = {"leaderId": 1, "leaderEpoch": 4}, {"leaderId": 3, "leaderEpoch": 5}
    assert quorum_leader([stale, current, {}]) == 3  # a voter that has not recorded one yet: {}
    assert quorum_leader([{"leaderId": -1, "leaderEpoch": 6}, stale]) == 1  # an election in progress: no leader
    assert quorum_leader([{}, {"leaderId": -1}]) is None
