"""deploy/prometheus and deploy/grafana: rules that promtool accepts and whose unit tests pass, a
scrape config for every process, and a dashboard and rules built on exactly the exported names."""

from __future__ import annotations

import importlib
import json
import subprocess

import yaml
from prometheus_client import REGISTRY, CollectorRegistry

from processors.lag_exporter.app import LagExporter, LagLimits
from processors.lag_exporter.exposition import LagMetrics
from processors.lag_exporter.settings import LagExporterSettings
from processors.registry import PROCESSES
from tests.observability import (
    DASHBOARD,
    RULE_TESTS,
    RULES,
    SCRAPE_CONFIG,
    alert_rules,
    binary,
    dashboard_expressions,
    metric_names,
)


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary("promtool"), *args], capture_output=True, text=True, timeout=60)


def test_rules_pass_promtool_check():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_config_passes_promtool_check():
    result = promtool("check", "config", str(SCRAPE_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_does_not():
    cases = [c for t in yaml.safe_load(RULE_TESTS.read_text())["tests"] for c in t.get("alert_rule_test", [])]
    for rule in alert_rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c.get("exp_alerts") for c in mine), f"{rule['alert']}: no case where it fires"
        assert any(not c.get("exp_alerts") for c in mine), f"{rule['alert']}: no case where it stays quiet"


def test_rule_unit_tests_pass():
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_config_has_one_job_per_process_on_its_default_port():
    jobs = {
        j["job_name"]: j["static_configs"][0]["targets"]
        for j in yaml.safe_load(SCRAPE_CONFIG.read_text())["scrape_configs"]
    }
    assert jobs == {f"herald-{p.name}": [f"127.0.0.1:{p.port}"] for p in PROCESSES.values()}


def exported_names() -> set[str]:
    """Every metric family name Herald processes export, with the sample suffixes Prometheus sees:
    importing each registered process's ``__main__`` registers the metrics of the modules it runs."""
    for process in PROCESSES.values():
        importlib.import_module(f"{process.module}.__main__")
    registry = CollectorRegistry()
    idle = LagExporter(
        lambda: None, group_prefix="herald-", limits=LagLimits.of(LagExporterSettings())
    )  # never collects
    registry.register(LagMetrics(idle))
    families = list(REGISTRY.collect()) + list(registry.collect())
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {f.name + s for f in families for s in suffixes.get(f.type, [""])}


def test_dashboard_and_rules_use_only_exported_metric_names():
    exported = exported_names()
    used = {n for e in dashboard_expressions() + [r["expr"] for r in alert_rules()] for n in metric_names(e)}
    assert used and used <= exported, f"not exported by any process: {sorted(used - exported)}"


def test_dashboard_covers_lag_throughput_latency_dlq_push_and_held():
    used = {n for e in dashboard_expressions() for n in metric_names(e)}
    for name in (
        "herald_group_lag_messages",
        "herald_group_lag_seconds",
        "herald_records_in_total",
        "herald_end_to_end_latency_seconds_bucket",
        "herald_records_dead_lettered_total",
        "herald_push_results_total",
        "herald_held_notifications",
        "herald_held_overdue_notifications",
    ):
        assert name in used, name
    panel_ids = [p["id"] for p in json.loads(DASHBOARD.read_text())["panels"]]
    assert len(panel_ids) == len(set(panel_ids))
