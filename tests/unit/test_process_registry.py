"""processors/registry.py is the one list of processes: every entry can be run, its settings class
loads, ports do not collide, and the CLI, the demo and docs/operations.md follow it."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from cli import process_table
from cli.processes import ports_of, settings_class
from processors import registry
from processors.registry import PROCESSES
from streams.topics import DLQ_OF, topic_specs

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


@pytest.mark.parametrize("process", PROCESSES.values(), ids=list(PROCESSES))
def test_every_process_has_a_main_and_a_settings_class(process):
    assert importlib.util.find_spec(f"{process.module}.__main__") is not None
    assert callable(importlib.import_module(f"{process.module}.__main__").main)
    assert issubclass(settings_class(process), BaseSettings)
    main = importlib.import_module(f"{process.module}.__main__").main
    annotation = str(inspect.signature(main).parameters["settings"].annotation)
    assert settings_class(process).__name__ in annotation, f"{process.name}: main(settings: {annotation})"


def test_ports_and_groups_are_distinct_and_topics_exist():
    assert len({p.port for p in PROCESSES.values()}) == len(PROCESSES)
    groups = [p.group for p in PROCESSES.values() if p.group]
    assert len(groups) == len(set(groups))
    known = {spec.base for spec in topic_specs()}
    for p in PROCESSES.values():
        assert set(p.inputs) | set(p.outputs) | set(p.dead_letters.values()) <= known, p.name


def test_every_consumer_group_reads_topics_with_a_dead_letter_topic_and_every_other_process_reads_none():
    for p in PROCESSES.values():
        assert bool(p.group) == bool(p.inputs), p.name
        assert p.dead_letters == {t: DLQ_OF[t] for t in p.inputs}


def test_the_api_port_is_the_api_settings_default():
    api = PROCESSES["api"]
    assert settings_class(api)().api_port == api.port
    assert api.port_setting == "HERALD_API_PORT"


def test_the_ports_a_set_of_processes_needs_follow_the_registry_and_its_settings():
    assert ports_of(["persister", "api"], {}) == {9301: "HERALD_METRICS_PORT", 8080: "HERALD_API_PORT"}
    assert ports_of(["persister", "fanout", "api"], {"HERALD_METRICS_PORT": "0", "HERALD_API_PORT": "9000"}) == {
        9000: "HERALD_API_PORT"
    }
    assert ports_of(["fanout"], {"HERALD_METRICS_PORT": "9400"}) == {9400: "HERALD_METRICS_PORT"}


def test_the_cli_runs_exactly_the_registered_processes(monkeypatch):
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["run", "nope"])
    assert result.exit_code == 2
    assert ", ".join(PROCESSES) in " ".join(result.output.split())


def test_the_demo_starts_the_registered_processes_marked_for_it():
    from cli.demo import DEMO_PROCESSORS

    assert set(DEMO_PROCESSORS) == {n for n, p in PROCESSES.items() if p.in_demo} - {"api"}


def test_the_process_table_of_docs_operations_md_is_the_registry():
    page = OPERATIONS.read_text()
    assert process_table.render() in page, (
        "docs/operations.md is stale; regenerate: python -m cli.process_table --write docs/operations.md"
    )


def test_a_process_added_to_the_registry_shows_in_the_table(monkeypatch):
    extra = dataclasses.replace(PROCESSES["persister"], name="archiver", port=9399, group="archiver")
    monkeypatch.setitem(registry.PROCESSES, "archiver", extra)
    assert "| archiver | `herald run archiver` | archiver | `activity-events.v1` → —" in process_table.render()


def test_the_readme_describes_exactly_the_registered_processes():
    readme = (OPERATIONS.parents[1] / "README.md").read_text()
    described = set(re.findall(r"^\| `herald run ([a-z-]+)", readme, re.MULTILINE)) - {"all"}
    assert described == set(PROCESSES)
