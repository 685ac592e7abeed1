"""The Helm chart's `processes` values are generated from the process registry and must stay in step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from cli import helm_values
from processors import registry
from streams.topics import topic_specs

ROOT = Path(__file__).resolve().parents[3]
VALUES = ROOT / "deploy" / "helm" / "herald" / "values.yaml"
REGENERATE = "regenerate it: python -m cli.helm_values --write deploy/helm/herald/values.yaml"


def test_the_committed_values_hold_what_the_generator_prints():
    assert helm_values.render() in VALUES.read_text(), f"{VALUES} is stale; {REGENERATE}"
    assert helm_values.replace_block(VALUES.read_text()) == VALUES.read_text(), f"{VALUES} is stale; {REGENERATE}"


def test_every_registered_process_has_values_and_nothing_else_does():
    processes = yaml.safe_load(VALUES.read_text())["processes"]
    assert list(processes) == list(registry.PROCESSES)


def test_a_consumer_group_is_a_statefulset_scaled_up_to_its_input_partitions():
    partitions = {spec.base: spec.partitions for spec in topic_specs()}
    processes = yaml.safe_load(helm_values.render())["processes"]
    groups = {name for name, p in registry.PROCESSES.items() if p.group}
    assert groups == {"persister", "directory", "fanout", "push-sender"}
    for name in groups:
        values, process = processes[name], registry.PROCESSES[name]
        assert values["kind"] == "StatefulSet"
        assert values["group"] == process.group and values["topic"] == process.inputs[0]
        assert values["maxReplicas"] == values["partitions"] == partitions[process.inputs[0]]
    assert processes["persister"]["maxReplicas"] == 12 and processes["push-sender"]["maxReplicas"] == 6
    for name in set(registry.PROCESSES) - groups:
        assert processes[name]["kind"] == "Deployment" and "group" not in processes[name]


def test_the_secrets_a_process_mounts_follow_its_settings_fields():
    processes = yaml.safe_load(helm_values.render())["processes"]
    assert processes["push-sender"]["secrets"] == ["database", "fcm"]
    assert processes["api"]["secrets"] == ["database", "jwt"]
    assert processes["lag-exporter"]["secrets"] == []
    assert processes["outbox-relay"]["secrets"] == ["outboxDatabase"]


def test_only_the_lag_exporter_and_lifecycle_are_singletons_and_only_the_outbox_relay_is_off():
    processes = yaml.safe_load(helm_values.render())["processes"]
    assert {n for n, p in processes.items() if p.get("singleton")} == {"lag-exporter", "lifecycle"}
    assert {n for n, p in processes.items() if not p["enabled"]} == {"outbox-relay"}


def test_a_process_added_to_the_registry_gets_values_on_its_port(monkeypatch):
    extra = dataclasses.replace(registry.PROCESSES["persister"], name="archiver", port=9399)
    monkeypatch.setitem(registry.PROCESSES, "archiver", extra)

    processes = yaml.safe_load(helm_values.render())["processes"]
    assert processes["archiver"]["port"] == 9399 and processes["archiver"]["kind"] == "StatefulSet"
    assert helm_values.render() not in VALUES.read_text(), "the staleness check sees the new process"


def test_write_replaces_only_the_generated_block(tmp_path):
    page = tmp_path / "values.yaml"
    page.write_text(f"image: {{}}\n{helm_values.BEGIN}\nprocesses: {{}}\n{helm_values.END}\ntail: 1\n")
    helm_values.main(["--write", str(page)])
    text = page.read_text()
    assert text.startswith("image: {}\n") and text.endswith(f"{helm_values.END}\ntail: 1\n")
    assert yaml.safe_load(text)["processes"].keys() == registry.PROCESSES.keys()
