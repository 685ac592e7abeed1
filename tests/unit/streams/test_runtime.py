"""The runtime's commit order, rewind and dead letters, with fakes (no services)."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from streams.checkpoint import Checkpoint
from streams.client_errors import ClientErrors
from streams.decoder import Decoder
from streams.errors import SinkBackpressure
from streams.messages import ACTIVITY_EVENT, ActivityEvent
from streams.metrics import RuntimeHooks
from streams.records import Outcome, Output
from streams.runtime import Runtime, offsets_after, offsets_at_start
from streams.serde import AvroSerde, SchemaStore
from streams.testing import FakeClock, FakeConsumer, FakeMessage, FakeProducer, ListSink, default_loop_config

TOPIC = "t.activity-events.v1"
DLQ = "t.activity-events.dlq.v1"
SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())


def event_bytes(n: int) -> bytes:
    event = ActivityEvent(
        event_id=uuid.UUID(int=n),
        event_type="LAB_RESULT_RECEIVED",
        title="t",
        occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        organization_id="org-1",
    )
    return SERDE.encode(event.to_avro())


class Collect:
    name = "collect"

    def handle(self, batch):
        return Outcome(writes=[r.value.event_id for r in batch])


def make_runtime(
    batches,
    *,
    sink=None,
    producer=None,
    transactional=False,
    clock=None,
    pipelined=False,
    processor=None,
    commit_interval_s=0.0,
):
    journal: list = []
    consumer = FakeConsumer(batches, journal=journal)
    producer = producer or FakeProducer(journal=journal)
    producer.journal = journal
    sink = sink or ListSink()
    sink.journal = journal
    clock = clock or FakeClock()
    checkpoint = Checkpoint(
        consumer=consumer,
        producer=producer,
        sink=sink,
        dlq_topic_of=lambda t: DLQ,
        transactional=transactional,
        commit_interval_s=commit_interval_s,
        clock=clock,
    )
    runtime = runtime_of(consumer, checkpoint, processor=processor, clock=clock, pipelined=pipelined)
    consumer.on_empty = runtime.stop
    return runtime, consumer, producer, sink, journal


def runtime_of(
    consumer: Any,
    checkpoint: Checkpoint,
    *,
    processor: Any = None,
    clock: Any = None,
    client_errors: ClientErrors | None = None,
    **config: Any,
) -> Runtime:
    """The loop the tests drive: ``TOPIC`` decoded as ActivityEvents, collected by ``processor`` (a
    ``Collect`` unless given), on a fake clock; ``config`` changes the default loop settings."""
    return Runtime(
        consumer=consumer,
        topics=[TOPIC],
        decode=Decoder(SERDE, ActivityEvent.from_avro),
        processor=processor or Collect(),
        checkpoint=checkpoint,
        hooks=RuntimeHooks("collect", "g"),
        config=default_loop_config(**config),
        clock=clock or FakeClock(),
        client_errors=client_errors,
    )


def msgs(partition: int, offsets, value=event_bytes):
    return [FakeMessage(TOPIC, partition, o, value(o) if callable(value) else value) for o in offsets]


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_a_batch_when_it_succeeds_then_sink_then_produce_then_flush_then_commit(pipelined):
    batch = msgs(0, [5, 6]) + msgs(1, [9]) + [FakeMessage(TOPIC, 1, 10, b"garbage")]
    runtime, consumer, producer, sink, journal = make_runtime([batch], pipelined=pipelined)

    runtime.run()

    assert journal == [("sink.write", 3), ("produce", DLQ), ("flush",), ("commit", [(TOPIC, 0, 7), (TOPIC, 1, 11)])]
    assert [len(b) for b in sink.batches] == [3]
    assert consumer.closed


def test_given_a_poison_record_then_it_is_dead_lettered_with_reason_and_coordinates():
    runtime, _, producer, _, _ = make_runtime([[FakeMessage(TOPIC, 2, 41, b"\xc3\x01" + b"\x00" * 8 + b"x", b"k")]])

    runtime.run()

    ((topic, key, value, headers),) = producer.produced
    h = dict(headers)
    assert (topic, key, value) == (DLQ, b"k", b"\xc3\x01" + b"\x00" * 8 + b"x")
    assert h["herald.error.type"] == b"DecodeError"
    assert b"unknown schema fingerprint" in h["herald.error.reason"]
    assert (h["herald.source.topic"], h["herald.source.partition"], h["herald.source.offset"]) == (
        TOPIC.encode(),
        b"2",
        b"41",
    )


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_the_sink_fails_then_nothing_is_committed_and_the_batch_is_rewound_and_paused(pipelined):
    sink = ListSink(fail_with=RuntimeError("db down"))
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [3, 4]) + msgs(1, [8])], sink=sink, pipelined=pipelined)

    runtime.run()

    assert not any(step[0] == "commit" for step in journal)
    assert ("seek", (TOPIC, 0, 3)) in journal and ("seek", (TOPIC, 1, 8)) in journal
    assert ("pause", [(TOPIC, 0)]) in journal
    assert consumer.committed == {}


def test_given_the_sink_fails_then_only_the_first_line_of_its_error_is_logged(caplog):
    error = RuntimeError('new row violates check constraint "c"\nDETAIL:  Failing row contains (Jane Doe, HIV+).')
    runtime, *_ = make_runtime([msgs(0, [1])], sink=ListSink(fail_with=error))

    runtime.run()

    assert 'violates check constraint "c"' in caplog.text  # the reason stays
    assert "Jane Doe" not in caplog.text and "DETAIL" not in caplog.text  # a row the driver quoted does not


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_failed_delivery_then_offsets_are_not_committed(pipelined):
    runtime, consumer, _, _, journal = make_runtime(
        [msgs(0, [1]) + [FakeMessage(TOPIC, 0, 2, b"bad")]],
        producer=FakeProducer(fail_delivery=True),
        pipelined=pipelined,
    )

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


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_transactional_mode_then_outputs_and_offsets_are_one_transaction(pipelined):
    runtime, _, _, _, journal = make_runtime(
        [msgs(0, [0]) + [FakeMessage(TOPIC, 0, 1, b"bad")]], transactional=True, pipelined=pipelined
    )

    runtime.run()

    assert journal == [
        ("sink.write", 1),
        ("begin_transaction",),
        ("produce", DLQ),
        ("send_offsets", [(TOPIC, 0, 2)]),
        ("commit_transaction",),
    ]


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_transactional_mode_when_a_batch_has_nothing_to_produce_then_its_offsets_are_a_plain_commit(pipelined):
    runtime, _, _, _, journal = make_runtime(
        [msgs(0, [0, 1]), msgs(0, [2]) + [FakeMessage(TOPIC, 0, 3, b"bad")], msgs(0, [4])],
        transactional=True,
        pipelined=pipelined,
    )

    runtime.run()

    assert journal == [
        ("sink.write", 2),
        ("flush",),
        ("commit", [(TOPIC, 0, 2)]),
        ("sink.write", 1),
        ("begin_transaction",),
        ("produce", DLQ),
        ("send_offsets", [(TOPIC, 0, 4)]),
        ("commit_transaction",),
        ("sink.write", 1),
        ("flush",),
        ("commit", [(TOPIC, 0, 5)]),
    ]


class GatedSink(ListSink):
    """The first write waits until the test opens the gate (or a timeout) and records whether it was open."""

    def __init__(self, gate: threading.Event, fail_first: bool = False) -> None:
        super().__init__()
        self.gate, self.fail_first, self.gate_was_open = gate, fail_first, None

    def write(self, batch):
        if self.gate_was_open is None:
            self.gate_was_open = self.gate.wait(5)
            if self.fail_first:
                self.journal.append(("sink.write", len(batch)))
                raise RuntimeError("db down")
        super().write(batch)


class Signals(Collect):
    """Opens the gate when it handles its second batch."""

    def __init__(self, gate: threading.Event) -> None:
        self.gate, self.calls = gate, 0

    def handle(self, batch):
        self.calls += 1
        if self.calls == 2:
            self.gate.set()
        return super().handle(batch)


def test_given_pipelined_then_the_next_batch_is_handled_while_the_previous_one_is_written():
    gate = threading.Event()
    sink = GatedSink(gate)
    runtime, consumer, _, _, journal = make_runtime(
        [msgs(0, [0, 1]), msgs(0, [2])], sink=sink, pipelined=True, processor=Signals(gate)
    )
    committing_threads = []
    commit = consumer.commit
    consumer.commit = lambda **kw: (committing_threads.append(threading.current_thread()), commit(**kw))

    runtime.run()

    assert sink.gate_was_open  # batch 2 was handled during batch 1's write
    # offsets are committed by the thread that polls (another thread's synchronous commit can deadlock
    # with a rebalance callback waiting for it)
    assert committing_threads == [threading.main_thread()] * 2
    commits = [step for step in journal if step[0] == "commit"]
    assert commits == [("commit", [(TOPIC, 0, 2)]), ("commit", [(TOPIC, 0, 3)])]  # still in order
    assert consumer.closed


class TimedConsumer(FakeConsumer):
    """Records each consume call's timeout in the journal; each commit takes 20 ms of the fake clock."""

    def __init__(self, batches, journal, clock: FakeClock):
        super().__init__(batches, journal=journal)
        self.clock = clock

    def consume(self, num_messages=1, timeout=-1):
        self.journal.append(("consume", round(timeout, 3)))
        return super().consume(num_messages, timeout)

    def commit(self, offsets=None, asynchronous=True):
        self.clock.advance(0.02)
        super().commit(offsets, asynchronous)


class Forward(Collect):
    """Forwards every record to another topic (a fan-out in miniature)."""

    def handle(self, batch):
        return Outcome(writes=[r.value.event_id for r in batch], outputs=[Output("t.out", None, b"x") for _ in batch])


def run_timed(batches, processor) -> list:
    """A pipelined, non-transactional loop (batches of at most 3, 0.1 s timeout); its consume and commit steps."""
    journal: list = []
    clock = FakeClock()
    consumer = TimedConsumer(batches, journal, clock)
    checkpoint = Checkpoint(
        consumer=consumer, producer=FakeProducer(journal=journal), sink=ListSink(), dlq_topic_of=lambda t: DLQ
    )
    runtime = runtime_of(
        consumer, checkpoint, processor=processor, clock=clock, pipelined=True, batch_timeout_s=0.1, batch_max_records=3
    )
    consumer.on_empty = runtime.stop
    runtime.run()
    return [step for step in journal if step[0] in ("consume", "commit")]


def test_given_pipelined_and_outputs_without_a_backlog_then_the_batch_lands_before_the_loop_waits():
    steps = run_timed([msgs(0, [0, 1]), msgs(0, [2])], Forward())

    # batch 1 (2 of at most 3 records) commits before the loop waits for batch 2, and that wait is
    # shorter by the 20 ms the commit took
    assert steps[:4] == [("consume", 0.1), ("commit", [(TOPIC, 0, 2)]), ("consume", 0.08), ("commit", [(TOPIC, 0, 3)])]


@pytest.mark.parametrize(
    "batches, processor",
    [
        ([msgs(0, [0, 1, 2]), msgs(0, [3])], Forward()),  # a backlog: full batches
        ([msgs(0, [0, 1]), msgs(0, [2])], Collect()),  # nothing for other processors to wait for
    ],
)
def test_given_pipelined_with_a_backlog_or_no_outputs_then_the_next_batch_is_polled_first(batches, processor):
    first_commit = ("commit", [(TOPIC, 0, len(batches[0]))])
    steps = run_timed(batches, processor)

    assert steps[:3] == [("consume", 0.1), ("consume", 0.1), first_commit]


def test_given_pipelined_when_a_write_fails_then_the_batch_handled_meanwhile_is_rewound_with_it():
    gate = threading.Event()
    sink = GatedSink(gate, fail_first=True)
    runtime, consumer, _, _, journal = make_runtime(
        [msgs(0, [3, 4]), msgs(0, [5]) + msgs(2, [7])], sink=sink, pipelined=True, processor=Signals(gate)
    )

    runtime.run()

    assert consumer.committed == {}
    seeks = [step[1] for step in journal if step[0] == "seek"]
    assert seeks == [(TOPIC, 0, 3), (TOPIC, 2, 7)]  # partition 0 back to the failed batch's start, not to 5
    assert [b for b in sink.batches] == []


def test_given_pipelined_when_partitions_are_revoked_then_the_write_in_flight_commits_first():
    gate = threading.Event()
    sink = GatedSink(gate)
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [0])], sink=sink, pipelined=True)
    consumer.on_empty = None
    runtime._consumer.subscribe([TOPIC], on_assign=runtime._on_assign)
    runtime._process(consumer.consume())  # its write now waits at the gate, on the writer thread

    def revoke() -> None:
        runtime._on_revoke(consumer, [TopicPartition(TOPIC, 0)])
        journal.append(("revoke returned",))

    revoker = threading.Thread(target=revoke)
    revoker.start()
    revoker.join(0.2)  # gives a revoke that did not wait the time to return before the write ends
    gate.set()
    revoker.join(5)

    assert journal[-2:] == [("commit", [(TOPIC, 0, 1)]), ("revoke returned",)]
    runtime._writer.shutdown()


class Ticking(Collect):
    """Each batch takes ``seconds`` of the fake clock."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self._clock, self._seconds = clock, seconds

    def handle(self, batch):
        self._clock.advance(self._seconds)
        return super().handle(batch)


def commits(journal) -> list:
    return [step[1] for step in journal if step[0] == "commit"]


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_a_commit_interval_then_offsets_wait_for_it_and_go_with_a_later_batch(pipelined):
    clock = FakeClock()
    runtime, consumer, _, sink, journal = make_runtime(
        [msgs(0, [0]), msgs(0, [1]) + msgs(1, [7]), msgs(0, [2]), msgs(1, [8])],
        clock=clock,
        processor=Ticking(clock, 0.4),
        pipelined=pipelined,
        commit_interval_s=1.0,
    )

    runtime.run()

    # 0.4 s and 0.8 s: held; 1.2 s: committed with the batches before; 1.6 s: held until the loop is idle.
    # Pipelined, a batch is finished while the next is handled: at 1.2 s the third is not written yet.
    expected = (
        [[(TOPIC, 0, 2), (TOPIC, 1, 8)], [(TOPIC, 0, 3), (TOPIC, 1, 9)]]
        if pipelined
        else [[(TOPIC, 0, 3), (TOPIC, 1, 8)], [(TOPIC, 1, 9)]]
    )
    assert commits(journal) == expected
    assert len(sink.batches) == 4
    assert consumer.committed == {(TOPIC, 0): 3, (TOPIC, 1): 9}


def test_given_a_commit_interval_then_an_idle_poll_commits_what_is_held_at_once():
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [4, 5]), [], msgs(0, [6])], commit_interval_s=60.0)
    consumer.on_empty = None
    runtime._consumer.subscribe([TOPIC], on_assign=runtime._on_assign)
    for _ in range(2):
        runtime.step()

    assert commits(journal) == [[(TOPIC, 0, 6)]]


def test_given_held_offsets_when_partitions_are_revoked_then_they_are_committed_first():
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [0]) + msgs(1, [3])], commit_interval_s=60.0)
    consumer.on_empty = None
    runtime._consumer.subscribe([TOPIC], on_assign=runtime._on_assign)
    runtime.step()
    assert commits(journal) == []

    runtime._on_revoke(consumer, [TopicPartition(TOPIC, 1)])

    assert commits(journal) == [[(TOPIC, 0, 1), (TOPIC, 1, 4)]]


def test_given_held_offsets_when_partitions_are_lost_then_only_the_others_are_committed():
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [0]) + msgs(1, [3])], commit_interval_s=60.0)
    consumer.on_empty = None
    runtime._consumer.subscribe([TOPIC], on_assign=runtime._on_assign)
    runtime.step()

    runtime._on_lost(consumer, [TopicPartition(TOPIC, 1)])

    assert commits(journal) == [[(TOPIC, 0, 1)]]


def test_given_a_held_commit_fails_then_it_is_logged_and_the_offsets_go_with_the_next_one(caplog):
    runtime, consumer, _, _, journal = make_runtime([msgs(0, [0]), [], msgs(0, [1]), []], commit_interval_s=60.0)
    consumer.on_empty = None
    runtime._consumer.subscribe([TOPIC], on_assign=runtime._on_assign)
    real_commit, failures = consumer.commit, [RuntimeError("coordinator not available")]

    def commit(offsets=None, asynchronous=True):
        if failures:
            raise failures.pop()
        real_commit(offsets=offsets, asynchronous=asynchronous)

    consumer.commit = commit
    for _ in range(4):
        runtime.step()

    assert "coordinator not available" in caplog.text
    assert commits(journal) == [[(TOPIC, 0, 2)]]


def test_given_held_offsets_when_a_transaction_commits_a_partition_then_its_held_offset_is_dropped():
    clock = FakeClock()
    runtime, consumer, _, _, journal = make_runtime(
        [msgs(0, [0]) + msgs(1, [5]), msgs(0, [1]) + [FakeMessage(TOPIC, 0, 2, b"bad")]],
        transactional=True,
        clock=clock,
        commit_interval_s=60.0,
    )

    runtime.run()

    assert ("send_offsets", [(TOPIC, 0, 3)]) in journal
    assert commits(journal) == [[(TOPIC, 1, 6)]]  # at idle: partition 0's held offset (1) would go back


def test_offsets_after_and_at_start_cover_each_partition():
    batch = msgs(0, [7, 5, 6], b"") + msgs(3, [1], b"")
    assert [(tp.partition, tp.offset) for tp in offsets_after(batch)] == [(0, 8), (3, 2)]
    assert [(tp.partition, tp.offset) for tp in offsets_at_start(batch)] == [(0, 5), (3, 1)]


@pytest.mark.parametrize("attempt,expected", [(1, 0.5), (2, 1.0), (3, 2.0), (10, 30.0)])
def test_compute_backoff_doubles_up_to_the_cap(attempt, expected):
    from streams.retry import compute_backoff

    assert compute_backoff(attempt, base=0.5, cap=30.0, jitter=False) == expected
    assert expected / 2 <= compute_backoff(attempt, base=0.5, cap=30.0, jitter=True) <= expected


class ArrivingConsumer(FakeConsumer):
    """Batches arrive over time: a batch marked queued is there at once, any other only when a call
    waits (timeout > 0); a call returns at most ``num_messages`` records and keeps the rest for the next.
    Records every consume call as (num_messages, timeout, records returned)."""

    def __init__(self, arrivals, journal):
        super().__init__([batch for batch, _ in arrivals], journal=journal)
        self.queued = [queued for _, queued in arrivals]
        self.ready: list = []  # arrived, not yet handed out
        self.calls: list[tuple[int, float, int]] = []

    def consume(self, num_messages=1, timeout=-1):
        if not self.ready and self.batches and (timeout != 0 or self.queued[0]):
            self.queued.pop(0)
            self.ready = super().consume(num_messages, timeout)
        elif not self.ready and not self.batches and timeout != 0:
            super().consume(num_messages, timeout)  # nothing will arrive: on_empty
        batch, self.ready = self.ready[:num_messages], self.ready[num_messages:]
        self.calls.append((num_messages, timeout, len(batch)))
        return batch


@pytest.mark.parametrize(
    "eager, expected",
    [
        # eager: queued records are taken at once; with none queued the loop waits for the first record to
        # arrive, not for the whole timeout, and takes it with the records that came along
        (True, [(5000, 0, 0), (1, 0.05, 1), (4999, 0, 1), (5000, 0, 3), (5000, 0, 1), (5000, 0, 0), (1, 0.05, 0)]),
        # not eager: every batch waits the timeout out, backlog or not
        (False, [(5000, 0.05, 2), (5000, 0.05, 3), (5000, 0.05, 1), (5000, 0.05, 0)]),
    ],
)
def test_given_eager_batches_then_queued_records_are_taken_without_waiting_the_timeout(eager, expected):
    journal: list = []
    arrivals = [(msgs(0, [0, 1]), False), (msgs(0, [2, 3, 4]), True), (msgs(1, [0]), True)]
    consumer = ArrivingConsumer(arrivals, journal)
    sink = ListSink(journal=journal)
    checkpoint = Checkpoint(
        consumer=consumer, producer=FakeProducer(journal=journal), sink=sink, dlq_topic_of=lambda t: DLQ
    )
    runtime = runtime_of(consumer, checkpoint, eager=eager)
    consumer.on_empty = runtime.stop

    runtime.run()

    assert consumer.calls == expected
    assert [len(w) for w in sink.batches] == [2, 3, 1]
