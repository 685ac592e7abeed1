"""The runtime's commit order, rewind and dead letters, with fakes (no services)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from streams.checkpoint import Checkpoint
from streams.decoder import Decoder
from streams.errors import SinkBackpressure
from streams.messages import ACTIVITY_EVENT, ActivityEvent
from streams.metrics import RuntimeHooks
from streams.records import Outcome
from streams.runtime import LoopConfig, Runtime, offsets_after, offsets_at_start
from streams.serde import AvroSerde, SchemaStore
from streams.testing import FakeClock, FakeConsumer, FakeMessage, FakeProducer, ListSink

TOPIC = "t.activity-events.v1"
DLQ = "t.activity-events.dlq.v1"
SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())


def event_bytes(n: int) -> bytes:
    event = ActivityEvent(event_id=uuid.UUID(int=n), event_type="LAB_RESULT_RECEIVED", title="t",
                          occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc), organization_id="org-1")
    return SERDE.encode(event.to_avro())


class Collect:
    name = "collect"

    def handle(self, batch):
        return Outcome(writes=[r.value.event_id for r in batch])


def make_runtime(batches, *, sink=None, producer=None, transactional=False, clock=None):
    journal: list = []
    consumer = FakeConsumer(batches, journal=journal)
    producer = producer or FakeProducer(journal=journal)
    producer.journal = journal
    sink = sink or ListSink()
    sink.journal = journal
    checkpoint = Checkpoint(consumer=consumer, producer=producer, sink=sink, dlq_topic_of=lambda t: DLQ,
                            transactional=transactional)
    runtime = Runtime(consumer=consumer, topics=[TOPIC], decode=Decoder(SERDE, ActivityEvent.from_avro),
                      processor=Collect(), checkpoint=checkpoint, hooks=RuntimeHooks("collect", "g"),
                      config=LoopConfig(), clock=clock or FakeClock())
    consumer.on_empty = runtime.stop
    return runtime, consumer, producer, sink, journal


def msgs(partition: int, offsets, value=event_bytes):
    return [FakeMessage(TOPIC, partition, o, value(o) if callable(value) else value) for o in offsets]


def test_given_a_batch_when_it_succeeds_then_sink_then_produce_then_flush_then_commit():
    batch = msgs(0, [5, 6]) + msgs(1, [9]) + [FakeMessage(TOPIC, 1, 10, b"garbage")]
    runtime, consumer, producer, sink, journal = make_runtime([batch])

    runtime.run()

    assert journal == [("sink.write", 3), ("produce", DLQ), ("flush",), ("commit", [(TOPIC, 0, 7), (TOPIC, 1, 11)])]
    assert [len(b) for b in sink.batches] == [3]
    assert consumer.closed


def test_given_a_poison_record_then_it_is_dead_lettered_with_reason_and_coordinates():
    runtime, _, producer, _, _ = make_runtime([[FakeMessage(TOPIC, 2, 41, b"\xc3\x01" + b"\x00" * 8 + b"x", b"k")]])

    runtime.run()

    (topic, key, value, headers), = producer.produced
    h = dict(headers)
    assert (topic, key, value) == (DLQ, b"k", b"\xc3\x01" + b"\x00" * 8 + b"x")
    assert h["herald.error.type"] == b"DecodeError"
    assert b"unknown schema fingerprint" in h["herald.error.reason"]
    assert (h["herald.source.topic"], h["herald.source.partition"], h["herald.source.offset"]) == (TOPIC.encode(), b"2", b"41")


def test_given_the_sink_fails_then_nothing_is_committed_and_the_batch_is_rewound_and_paused():
    sink = ListSink(fail_with=RuntimeError("db down"))
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [3, 4]) + msgs(1, [8])], sink=sink)

    runtime.run()

    assert not any(step[0] == "commit" for step in journal)
    assert ("seek", (TOPIC, 0, 3)) in journal and ("seek", (TOPIC, 1, 8)) in journal
    assert ("pause", [(TOPIC, 0)]) in journal
    assert consumer.committed == {}


def test_given_failed_delivery_then_offsets_are_not_committed():
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [1]) + [FakeMessage(TOPIC, 0, 2, b"bad")]],
                                                    producer=FakeProducer(fail_delivery=True))

    runtime.run()

    assert consumer.committed == {}
    assert ("seek", (TOPIC, 0, 1)) in journal


def test_given_backpressure_then_partitions_resume_only_after_retry_after():
    clock = FakeClock()
    sink = ListSink(fail_with=SinkBackpressure(5.0))
    batch = msgs(0, [0, 1])
    runtime, consumer, _, _, journal = make_runtime([batch], sink=sink, clock=clock)
    runtime._consumer.on_empty = None
    runtime._consumer.subscribe([TOPIC], on_assign=runtime._on_assign)

    runtime._process(batch)
    clock.advance(4.9)
    runtime._resume_due()
    resumed_early = [s for s in journal if s[0] == "resume"]
    clock.advance(0.2)
    runtime._resume_due()

    assert resumed_early == []
    assert ("resume", [(TOPIC, 0)]) in journal


def test_given_transactional_mode_then_outputs_and_offsets_are_one_transaction():
    runtime, _, _, _, journal = make_runtime([msgs(0, [0]) + [FakeMessage(TOPIC, 0, 1, b"bad")]], transactional=True)

    runtime.run()

    assert journal == [("sink.write", 1), ("begin_transaction",), ("produce", DLQ),
                       ("send_offsets", [(TOPIC, 0, 2)]), ("commit_transaction",)]


def test_offsets_after_and_at_start_cover_each_partition():
    batch = msgs(0, [7, 5, 6], b"") + msgs(3, [1], b"")
    assert [(tp.partition, tp.offset) for tp in offsets_after(batch)] == [(0, 8), (3, 2)]
    assert [(tp.partition, tp.offset) for tp in offsets_at_start(batch)] == [(0, 5), (3, 1)]


@pytest.mark.parametrize("attempt,expected", [(1, 0.5), (2, 1.0), (3, 2.0), (10, 30.0)])
def test_compute_backoff_doubles_up_to_the_cap(attempt, expected):
    from streams.retry import compute_backoff

    assert compute_backoff(attempt, base=0.5, cap=30.0, jitter=False) == expected
    assert expected / 2 <= compute_backoff(attempt, base=0.5, cap=30.0, jitter=True) <= expected
