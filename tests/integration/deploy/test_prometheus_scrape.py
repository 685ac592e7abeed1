"""A real Prometheus scrapes the running pipeline: every expression of the Grafana dashboard and of the
alert rules returns at least one series, and the rules evaluate without error.

The processes come from one place, ``processors.registry.PROCESSES``, so the test grows as processes
are registered; each is scraped under its job of deploy/prometheus/prometheus.yml, on the port its
registered setting (``HERALD_METRICS_PORT``, the API's ``HERALD_API_PORT``) moves.
Metrics whose producer does not export them yet are listed once, in ``KNOWN_PENDING``.
"""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest
import yaml

from cli.outbox import install as install_outbox
from cli.processes import stop_processor, wait_until
from cli.produce import demo_event_list
from processors.registry import PROCESSES
from streams.topics import ACTIVITY
from tests.integration.fcm import add_bell_rows, device, publish_requests, push_request, register
from tests.integration.helpers import lag, produce_raw, publish_events, start
from tests.observability import (
    RULES,
    SCRAPE_CONFIG,
    alert_rules,
    binary,
    dashboard_expressions,
    metric_names,
    with_bool,
)
from tests.ports import free_port

pytestmark = pytest.mark.integration

# Metrics no running process exports yet, and why; remove an entry once its series appear (the test
# fails while a pending metric does show up, so this list cannot go stale).
KNOWN_PENDING: dict[str, str] = {
    "herald_alert_acknowledged_seconds_bucket": "the API exports it from its first acknowledgement; none here",
}


def extra_env(fcm, pipeline) -> dict[str, dict[str, str]]:
    """Env a process needs here beyond the pipeline's and its port."""
    return {
        # the session's database stands in for an EMR's: the relay reads the outbox installed there
        "outbox-relay": {
            "HERALD_OUTBOX_DATABASE_URL": pipeline.settings.database_url,
            "HERALD_OUTBOX_COUNT_INTERVAL_S": "1",
        },
        "lag-exporter": {"HERALD_LAG_INTERVAL_S": "1"},
        "api": {"HERALD_ENV": "dev"},
        "push-sender": {"HERALD_FCM_ENDPOINT": fcm.url, "HERALD_BATCH_TIMEOUT_S": "0.1"},
        # the session's database is shared: leave other tests' unsent events alone
        "reconciler": {"HERALD_RECONCILER_GRACE_S": str(365 * 24 * 3600)},
        # retention on, for its overdue gauge, with periods nothing in the shared database outlives
        "lifecycle": {
            "HERALD_LIFECYCLE_RETENTION": "true",
            **{f"HERALD_RETENTION_{t}_DAYS": "36500" for t in ("FEED", "BELL", "PUSH")},
        },
    }


def observed_processes() -> dict[str, str]:
    """Process name -> module, for every registered process that serves metrics."""
    return {name: p.module for name, p in PROCESSES.items() if p.port}


def scrape_config(ports: dict[str, int]) -> dict:
    """deploy/prometheus/prometheus.yml with a 1 s interval and each started process's port as target."""
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES)]
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    missing = [name for name in ports if f"herald-{name}" not in jobs]
    assert not missing, f"deploy/prometheus/prometheus.yml has no job for {missing}"
    config["scrape_configs"] = [
        {**jobs[f"herald-{name}"], "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
        for name, port in ports.items()
    ]
    return config


@pytest.fixture
def prometheus(tmp_path):
    """Starts Debian's prometheus on a free port; yields (start(config) -> base url)."""
    procs = []

    def run(config: dict) -> str:
        port = free_port()
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        log = open(tmp_path / "prometheus.log", "wb")
        procs.append(
            subprocess.Popen(
                [
                    binary("prometheus"),
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{url}/-/ready"), 30, what="Prometheus to be ready")
        return url

    yield run
    for proc in procs:
        stop_processor(proc, timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def query(url: str, expr: str) -> list:
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body["data"]["result"]


def expressions() -> dict[str, str]:
    """Every dashboard query, and every alert expression in its bool form (label -> PromQL)."""
    exprs = {f"dashboard: {e}": e for e in dashboard_expressions()}
    exprs.update({f"alert {r['alert']}": with_bool(r["expr"]) for r in alert_rules()})
    return exprs


def empty_expressions(url: str, exprs: dict[str, str]) -> list[str]:
    return [label for label, expr in exprs.items() if not query(url, expr)]


def rules_healthy(url: str) -> bool:
    groups = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    return len(rules) == len(alert_rules()) and all(r["health"] == "ok" and r["evaluationTime"] > 0 for r in rules)


def start_processes(pipeline, tmp_path, env: dict[str, dict[str, str]]) -> dict[str, int]:
    ports = {}
    for name, module in observed_processes().items():
        ports[name] = free_port()
        start(pipeline, module, tmp_path, **{PROCESSES[name].port_setting: str(ports[name])}, **env.get(name, {}))
    for name, port in ports.items():
        wait_until(
            lambda port=port: _answers(f"http://127.0.0.1:{port}/readyz"), 45, what=f"{name} to be ready (/readyz)"
        )
        assert _answers(f"http://127.0.0.1:{port}/healthz"), f"{name}: /healthz"
    return ports


def push_traffic(pipeline, fcm) -> int:
    """One push to a user with two devices: one delivered, one an uninstalled app (its token retired).
    Returns how many sends to expect."""
    ok, gone = device("obs-nurse", 0), device("obs-nurse", 1)
    register(pipeline, {"obs-nurse": [ok, gone]})
    fcm.fault(token=gone, code="UNREGISTERED")
    requests = [push_request("obs-nurse")]
    add_bell_rows(pipeline, requests)
    publish_requests(pipeline, requests)
    return 2


def test_a_real_prometheus_finds_a_series_for_every_dashboard_and_alert_expression(pipeline, prometheus, fcm, tmp_path):
    # Given every process running and scraped by Prometheus with the deployed rules
    install_outbox(pipeline.settings.database_url)
    ports = start_processes(pipeline, tmp_path, extra_env(fcm, pipeline))
    url = prometheus(scrape_config(ports))
    wait_until(
        lambda: len(query(url, 'up{job=~"herald-.*"} == 1')) == len(ports),
        30,
        what=f"Prometheus to scrape all of {sorted(ports)}",
    )

    # When events and malformed records flow through the pipeline
    publish_events(pipeline, demo_event_list(500, seed=601))
    produce_raw(pipeline, ACTIVITY, [(f"bad-{i}".encode(), b"not avro") for i in range(5)])
    sends = push_traffic(pipeline, fcm) if "push-sender" in ports else 0
    wait_until(lambda: lag(pipeline) == 0, 60, what="the persister to catch up")
    wait_until(lambda: len(fcm.attempts()) >= sends, 30, what=f"{sends} push sends")

    # Then every expression not known to be pending returns series, and the rules evaluate cleanly
    exprs = expressions()
    pending = {label: e for label, e in exprs.items() if metric_names(e) & set(KNOWN_PENDING)}
    required = {label: e for label, e in exprs.items() if label not in pending}
    try:
        wait_until(lambda: not empty_expressions(url, required), 30, what="a series for every expression")
    except TimeoutError:
        pytest.fail("no series for:\n" + "\n".join(empty_expressions(url, required)))
    wait_until(lambda: rules_healthy(url), 15, what="every rule to evaluate without error")
    wait_until(
        lambda: query(url, 'ALERTS{alertname="HeraldDeadLetters", alertstate="firing"}'),
        15,
        what="the dead letters to fire HeraldDeadLetters",
    )
    exported_now = [name for name in KNOWN_PENDING if query(url, name)]
    assert not exported_now, f"exported now, so remove from KNOWN_PENDING: {exported_now}"
    assert_json_logs(tmp_path, observed_processes().values())


def assert_json_logs(tmp_path, modules) -> None:
    """Every line every process wrote is one JSON object (streams.logs)."""
    for module in modules:
        for line in (tmp_path / f"{module}.log").read_text().splitlines():
            assert isinstance(json.loads(line), dict), f"{module}: {line}"
