"""SIGTERM always stops a processor within its shutdown deadline, even when a write never returns."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from streams.shutdown import EXIT_SHUTDOWN_TIMEOUT
from tests.unit.streams.test_runtime import make_runtime, msgs

STUCK_PROCESSOR = """
import threading, sys
from streams.checkpoint import Checkpoint
from streams.metrics import RuntimeHooks
from streams.records import Outcome, Record
from streams.runtime import Runtime
from streams.testing import FakeConsumer, FakeMessage, FakeProducer, default_loop_config

class Stuck:
    name = "stuck"
    def handle(self, batch):
        return Outcome(writes=[1])

class NeverReturns:  # a database or broker that is gone and a call without a deadline
    def write(self, batch):
        print("writing", flush=True)
        threading.Event().wait()

consumer = FakeConsumer([[FakeMessage("t", 0, 0, b"x")]])
runtime = Runtime(consumer=consumer, topics=["t"], decode=lambda m: Record(m.value(), m), processor=Stuck(),
                  checkpoint=Checkpoint(consumer=consumer, producer=FakeProducer(), sink=NeverReturns(),
                                        dlq_topic_of=lambda t: t),
                  hooks=RuntimeHooks("stuck", "g"), config=default_loop_config(shutdown_timeout_s=1.0))
runtime.install_signal_handlers()
runtime.run()
"""


def test_given_a_write_that_never_returns_then_sigterm_still_ends_the_process_at_its_deadline():
    proc = subprocess.Popen([sys.executable, "-c", STUCK_PROCESSOR], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        took = time.monotonic() - sent
    finally:
        proc.kill()

    assert code == EXIT_SHUTDOWN_TIMEOUT
    assert 0.9 <= took < 10


STUCK_JOB = """
import threading
from processors.periodic import run_periodic
from processors.fanout.settings import FanoutSettings

def tick():  # a broker that is gone and a flush that waits for it
    print("ticking", flush=True)
    threading.Event().wait()

run_periodic("stuck", FanoutSettings(metrics_port=0, shutdown_timeout_s=1.0), tick, 5.0, default_port=0)
"""


def test_given_a_periodic_tick_that_never_returns_then_sigterm_still_ends_the_job_at_its_deadline():
    proc = subprocess.Popen([sys.executable, "-c", STUCK_JOB], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ticking"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
    finally:
        proc.kill()

    assert code == EXIT_SHUTDOWN_TIMEOUT


def test_given_sigterm_when_the_loop_closes_in_time_then_no_shutdown_deadline_stays_armed():
    """The deadline ends a process that has not closed in time; one that has must not leave it running
    (in a test session it would end pytest with exit 75 thirty seconds later)."""
    runtime, consumer, *_ = make_runtime([msgs(0, [0, 1])])
    consumer.on_empty = lambda: runtime._on_sigterm(signal.SIGTERM, None)

    runtime.run()

    assert consumer.closed
    assert [t for t in threading.enumerate() if isinstance(t, threading.Timer) and not t.finished.is_set()] == []
