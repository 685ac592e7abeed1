"""deploy/prometheus/prometheus.yml is generated from the process registry and must stay in step."""

from __future__ import annotations

import dataclasses

import yaml

from cli import scrape_config
from processors import registry
from tests.observability import SCRAPE_CONFIG

REGENERATE = "regenerate it: python -m cli.scrape_config > deploy/prometheus/prometheus.yml"


def test_the_committed_scrape_config_is_what_the_generator_prints():
    assert SCRAPE_CONFIG.read_text() == scrape_config.render(), f"{SCRAPE_CONFIG} is stale; {REGENERATE}"


def test_the_generated_config_keeps_the_rule_files_and_the_global_intervals():
    config = yaml.safe_load(scrape_config.render())
    assert config["rule_files"] == ["rules/*.yml"]
    assert config["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s"}


def test_a_process_added_to_the_registry_gets_a_job_on_its_port(monkeypatch):
    extra = dataclasses.replace(registry.PROCESSES["persister"], name="archiver", port=9399)
    monkeypatch.setitem(registry.PROCESSES, "archiver", extra)

    jobs = {
        j["job_name"]: j["static_configs"][0]["targets"]
        for j in yaml.safe_load(scrape_config.render())["scrape_configs"]
    }
    assert jobs["herald-archiver"] == ["127.0.0.1:9399"]
    assert len(jobs) == len(registry.PROCESSES)
