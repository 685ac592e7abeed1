"""A revocation waits for the write in flight only up to the deadline: a sink that hangs must not hold
the rebalance callback (fakes; no services)."""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import TopicPartition

from streams.checkpoint import Checkpoint
from streams.testing import FakeConsumer, FakeProducer
from tests.unit.streams.test_runtime import DLQ, TOPIC, GatedSink, msgs, runtime_of

DEADLINE_S = 0.2


def pipelined_runtime(batches, sink):
    journal: list = []
    consumer = FakeConsumer(batches, journal=journal)
    checkpoint = Checkpoint(
        consumer=consumer, producer=FakeProducer(journal=journal), sink=sink, dlq_topic_of=lambda t: DLQ
    )
    runtime = runtime_of(consumer, checkpoint, pipelined=True, shutdown_timeout_s=DEADLINE_S)
    runtime._consumer.subscribe([TOPIC], on_assign=runtime._on_assign)
    return runtime, consumer, journal


def test_given_a_sink_that_hangs_when_partitions_are_revoked_then_the_revoke_returns_at_the_deadline_uncommitted(
    caplog,
):
    gate = threading.Event()
    sink = GatedSink(gate)  # hangs until the gate opens (5 s at most)
    runtime, consumer, journal = pipelined_runtime([msgs(0, [0, 1]) + msgs(1, [4])], sink)
    runtime._process(consumer.consume())  # its write now hangs on the writer thread

    started = time.monotonic()
    runtime._on_revoke(consumer, [TopicPartition(TOPIC, 0)])
    took = time.monotonic() - started

    assert took < 2.0, f"the revoke waited {took:.1f}s for a hung sink"
    assert not [s for s in journal if s[0] == "commit"]
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1 and "not committed" in lines[0] and "[0]" in lines[0]

    gate.set()  # the database answers again: the loop finishes the batch
    assert runtime._settle() is True
    assert consumer.committed == {(TOPIC, 1): 5}  # the partition kept; partition 0 is redone by its next owner
    runtime._writer.shutdown()


def test_given_a_lost_partition_then_the_batch_in_flight_commits_only_the_partitions_kept():
    gate = threading.Event()
    gate.set()
    runtime, consumer, _ = pipelined_runtime([msgs(0, [0, 1]) + msgs(1, [4])], GatedSink(gate))
    runtime._process(consumer.consume())

    runtime._on_lost(consumer, [TopicPartition(TOPIC, 0)])

    assert consumer.committed == {(TOPIC, 1): 5}
    runtime._writer.shutdown()
