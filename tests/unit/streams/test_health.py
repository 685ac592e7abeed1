"""/metrics, /healthz and /readyz of every process, and the runtime heartbeat behind them (no services)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from streams.checkpoint import Checkpoint
from streams.health import Check, HealthServer, consumer_ready, heartbeat_within, serve_process
from streams.metrics import RuntimeHooks
from streams.records import DeadLetter, Outcome
from streams.runtime import Runtime
from streams.testing import FakeClock, FakeConsumer, FakeMessage, FakeProducer, ListSink, default_loop_config


@pytest.fixture
def server():
    started = []

    def start(live=None, ready=None):
        started.append(HealthServer(0, live=live or {}, ready=ready or {}, host="127.0.0.1").start())
        return f"http://127.0.0.1:{started[-1].port}"

    yield start
    for s in started:
        s.stop()


def test_metrics_are_served_in_the_prometheus_text_format(server):
    RuntimeHooks("health-test", "g").on_rebalance("assign", 3)
    response = httpx.get(f"{server()}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert 'herald_assigned_partitions{processor="health-test"} 3.0' in response.text


def test_given_passing_probes_then_200_with_each_detail(server):
    url = server(live={"loop": lambda: Check(True, "turned")}, ready={"db": lambda: Check(True)})
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok", "checks": {"loop": "turned"}}
    assert httpx.get(f"{url}/readyz").status_code == 200


def test_given_one_failing_or_raising_probe_then_503_naming_it(server):
    def broken():
        raise ConnectionRefusedError("db down")

    url = server(
        ready={"consumer": lambda: Check(True), "database": broken}, live={"loop": lambda: Check(False, "silent")}
    )
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"consumer": "ok", "database": "ConnectionRefusedError: db down"}
    assert httpx.get(f"{url}/healthz").status_code == 503
    assert httpx.get(f"{url}/nothing-here").status_code == 404


def test_heartbeat_fails_after_the_loop_is_silent_too_long_with_a_start_up_grace():
    clock, beat = FakeClock(), {"at": None}
    probe = heartbeat_within(lambda: beat["at"], 60, clock=clock)
    clock.advance(59)
    assert probe().ok  # not looping yet, but within the grace
    clock.advance(2)
    assert not probe().ok
    beat["at"] = clock()
    clock.advance(30)
    assert probe().ok


def test_consumer_ready_when_it_holds_partitions_or_got_records_recently():
    clock, hooks = FakeClock(), RuntimeHooks("ready-test", "g")
    probe = consumer_ready(hooks, recent_s=30, clock=clock, stall_timeout_s=60, max_failed_batches=3)
    assert not probe().ok
    hooks.last_records_at = clock()
    assert probe().ok
    clock.advance(31)
    assert not probe().ok
    hooks.on_rebalance("assign", 2)
    assert probe().ok


class Nothing:
    name = "heartbeat-test"

    def handle(self, batch):
        return Outcome()


def test_the_runtime_beats_every_iteration_and_reports_its_assignment():
    topic = "t.heartbeat.v1"
    consumer = FakeConsumer([[FakeMessage(topic, 0, 0, b"x")], [], []])
    hooks = RuntimeHooks("heartbeat-test", "g")
    runtime = Runtime(
        consumer=consumer,
        topics=[topic],
        decode=_dead,
        processor=Nothing(),
        checkpoint=Checkpoint(
            consumer=consumer, producer=FakeProducer(), sink=ListSink(), dlq_topic_of=lambda t: "dlq"
        ),
        hooks=hooks,
        config=default_loop_config(),
        clock=FakeClock(),
    )
    beats = []
    consumer.on_empty = lambda: (beats.append(hooks.last_loop_at), runtime.stop())
    runtime.run()
    assert beats and beats[0] is not None
    assert hooks.assigned == 1 and runtime.hooks is hooks
    assert (
        REGISTRY.get_sample_value("herald_records_failed_total", {"processor": "heartbeat-test", "topic": topic}) == 0.0
    )


def _dead(message) -> DeadLetter:
    return DeadLetter(reason="test", error_type="Test", message=message)


def test_port_zero_serves_nothing_and_an_unset_port_means_the_default_given():
    assert serve_process("persister", 0, default_port=9301) is None
    assert serve_process("not-a-process", None, default_port=0) is None
