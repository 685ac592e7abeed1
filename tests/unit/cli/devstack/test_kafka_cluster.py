"""Which Kafka `herald dev up` runs for a state dir (cli/devstack/kafka_cluster.py): what it holds, unless
asked for another size, which is refused with how to start over (the running cluster is tested in
tests/integration/cli/devstack/test_kafka_cluster.py)."""

from __future__ import annotations

import pytest

from cli.devstack import kafka_cluster
from cli.devstack.errors import DevstackError


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("HERALD_STATE_DIR", str(tmp_path))
    return tmp_path


def test_a_state_dir_with_a_single_node_refuses_three_and_keeps_one_by_default(state):
    (state / "kafka" / "data").mkdir(parents=True)
    (state / "kafka" / "data" / "meta.properties").write_text("node.id=1\n")
    existing = kafka_cluster.existing_nodes()
    assert existing == 1
    assert kafka_cluster.choose_nodes(None, existing, state / "kafka") == 1
    with pytest.raises(DevstackError, match=r"holds a single Kafka node.*herald dev down.*--brokers 3"):
        kafka_cluster.choose_nodes(3, existing, state / "kafka")


def test_an_empty_state_dir_runs_what_is_asked_and_one_node_by_default(state):
    assert kafka_cluster.existing_nodes() is None
    assert kafka_cluster.choose_nodes(None, None, state / "kafka") == 1
    assert kafka_cluster.choose_nodes(3, None, state / "kafka") == 3


def test_a_state_dir_with_a_formatted_cluster_keeps_it_by_default(state):
    for n in (1, 2, 3):
        (state / "kafka" / f"node-{n}" / "data").mkdir(parents=True)
        (state / "kafka" / f"node-{n}" / "data" / "meta.properties").write_text(f"node.id={n}\n")
    assert kafka_cluster.existing_nodes() == 3
    assert kafka_cluster.choose_nodes(None, 3, state / "kafka") == 3
    with pytest.raises(DevstackError, match="holds a 3-node Kafka cluster"):
        kafka_cluster.choose_nodes(1, 3, state / "kafka")
