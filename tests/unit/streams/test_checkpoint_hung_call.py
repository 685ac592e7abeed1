"""A transaction call that never returns (streams/checkpoint.py): librdkafka's
``send_offsets_to_transaction`` can block past its own timeout when the group coordinator's broker died;
the checkpoint gives up after the timeout plus a grace and raises a ClientFatal the process exits on,
without touching the stuck producer again."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import TopicPartition

from streams import checkpoint
from streams.checkpoint import Checkpoint, call_within
from streams.errors import ClientFatal
from streams.records import Outcome, Output


class StuckProducer:
    """Opens transactions and queues records; ``send_offsets_to_transaction`` blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[str] = []

    def begin_transaction(self):
        self.calls.append("begin")

    def produce(self, topic, value, key, headers=None, on_delivery=None):
        self.calls.append("produce")

    def send_offsets_to_transaction(self, offsets, metadata, timeout):
        self.calls.append("send_offsets")
        self.release.wait(30)

    def commit_transaction(self, timeout=None):
        self.calls.append("commit")

    def abort_transaction(self, timeout=None):
        self.calls.append("abort")


class Consumer:
    def consumer_group_metadata(self):
        return object()


def test_given_send_offsets_blocking_past_its_timeout_then_the_checkpoint_raises_a_fatal_error(monkeypatch):
    monkeypatch.setattr(checkpoint, "HUNG_CALL_GRACE_S", 0.3)
    producer = StuckProducer()
    cp = Checkpoint(
        consumer=Consumer(),
        producer=producer,
        sink=None,
        dlq_topic_of=lambda t: t + ".dlq",
        transactional=True,
        txn_timeout_s=0.2,
    )
    cp.prepare(Outcome(outputs=[Output("t", b"k", b"v")]))
    started = time.monotonic()
    try:
        with pytest.raises(ClientFatal, match="send_offsets_to_transaction did not return") as raised:
            cp.finish([TopicPartition("t", 0, 5)])
    finally:
        producer.release.set()
    assert not raised.value.recoverable  # the process exits; its supervisor starts it again
    assert time.monotonic() - started < 3
    assert producer.calls == ["begin", "produce", "send_offsets"]  # no abort asked of the stuck producer


def test_a_call_that_returns_in_time_passes_its_error_on():
    with pytest.raises(ValueError, match="boom"):
        call_within(lambda: (_ for _ in ()).throw(ValueError("boom")), 1.0, "call")
    call_within(lambda: None, 1.0, "call")
