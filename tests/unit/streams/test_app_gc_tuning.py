"""The collector is tuned once a processor is built (streams.app.tune_gc): a consumer-group runtime or a
periodic processor, unless settings turn it off."""

from __future__ import annotations

import gc
import os
import signal
import threading

import pytest

from processors.periodic import run_periodic
from processors.persister.settings import PersisterSettings
from streams.app import GC_YOUNG_THRESHOLD, build_runtime, tune_gc
from streams.records import Outcome


@pytest.fixture
def default_gc():
    saved = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, *saved[1:])
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


class Idle:
    name = "idle"

    def handle(self, batch):
        return Outcome()


def built(**settings) -> None:
    runtime = build_runtime(
        PersisterSettings(kafka_bootstrap="127.0.0.1:1", **settings),
        processor=Idle(),
        group="gc-test",
        topics=["activity-events.v1"],
        dead_letters={"activity-events.v1": "activity-events.dlq.v1"},
        decode=lambda m: m,
        sink=None,
    )
    runtime._consumer.close()  # noqa: SLF001 (never subscribed; only its threads to stop)


def test_tune_gc_freezes_what_is_alive_and_raises_the_young_threshold(default_gc):
    tune_gc(PersisterSettings())
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD


def test_a_built_processor_has_the_tuned_collector(default_gc):
    built()
    assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == GC_YOUNG_THRESHOLD


def test_gc_tuning_false_keeps_the_defaults(default_gc):
    built(gc_tuning=False)
    assert gc.get_freeze_count() == 0 and gc.get_threshold()[0] == 700


@pytest.fixture
def own_signals():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("tuning", [True, False])
def test_a_periodic_processor_has_the_tuned_collector_unless_turned_off(default_gc, own_signals, tuning):
    def tick() -> bool:  # one tick, then SIGTERM: run_periodic returns after it
        os.kill(os.getpid(), signal.SIGTERM)
        return False

    run_periodic("gc-test", PersisterSettings(metrics_port=0, gc_tuning=tuning), tick, 0.01, default_port=0)

    assert (gc.get_freeze_count() > 0) is tuning
    assert gc.get_threshold()[0] == (GC_YOUNG_THRESHOLD if tuning else 700)


def test_a_periodic_processor_stopped_in_time_leaves_no_shutdown_deadline_armed(default_gc, own_signals):
    """SIGTERM arms a deadline that ends the process if it has not closed in time; one that closed in time
    must not leave it running, or it ends whatever runs after (a test session: exit 75)."""

    def tick() -> bool:
        os.kill(os.getpid(), signal.SIGTERM)
        return False

    run_periodic("deadline-test", PersisterSettings(metrics_port=0), tick, 0.01, default_port=0)

    armed = [t for t in threading.enumerate() if isinstance(t, threading.Timer) and not t.finished.is_set()]
    assert armed == []
