"""How the runtime treats each kind of failure: data errors are narrowed to their records, transient
ones are retried, repeated unknown ones are narrowed too, and Kafka transaction errors are handled as
librdkafka documents them (fakes; no services)."""

from __future__ import annotations

import psycopg
import pytest
from confluent_kafka import KafkaError, KafkaException

from streams.checkpoint import Checkpoint
from streams.decoder import Decoder
from streams.failures import Failure, classify
from streams.messages import ActivityEvent
from streams.metrics import RuntimeHooks
from streams.records import Outcome, Output
from streams.runtime import EXIT_FATAL, Runtime
from streams.testing import FakeClock, FakeConsumer, FakeProducer, ListSink, default_loop_config
from tests.unit.streams.test_runtime import DLQ, SERDE, TOPIC, make_runtime, msgs

BAD = {3, 7}  # offsets whose rows the "database" refuses


def refuse_bad(event_id):
    if event_id.int in BAD:
        return psycopg.errors.StringDataRightTruncation("value too long for type character varying(64)")
    return None


def dead_lettered(producer) -> dict[int, dict[str, bytes]]:
    return {int(dict(h)["herald.source.offset"]): dict(h) for topic, _, _, h in producer.produced if topic == DLQ}


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_a_data_error_then_only_the_offending_records_are_dead_lettered_and_the_rest_is_written(pipelined):
    runtime, consumer, producer, sink, _ = make_runtime(
        [msgs(0, range(10))], sink=ListSink(reject=refuse_bad), pipelined=pipelined
    )

    runtime.run()

    written = sorted(e.int for batch in sink.batches for e in batch)
    assert written == [0, 1, 2, 4, 5, 6, 8, 9]
    dead = dead_lettered(producer)
    assert sorted(dead) == [3, 7]
    assert dead[3]["herald.error.type"] == b"DataError"
    assert b"value too long" in dead[3]["herald.error.reason"]
    assert consumer.committed == {(TOPIC, 0): 10}


def test_given_a_transient_error_then_the_batch_is_retried_and_nothing_is_dead_lettered():
    sink = ListSink(fail_with=psycopg.OperationalError("connection to server lost"))
    runtime, consumer, producer, sink, journal = make_runtime([msgs(0, [1, 2])], sink=sink)

    runtime.run()

    assert producer.produced == [] and consumer.committed == {}
    assert ("seek", (TOPIC, 0, 1)) in journal


def test_given_an_unknown_error_that_repeats_at_the_same_offsets_then_the_batch_is_narrowed_down():
    class Picky:
        name = "picky"

        def handle(self, batch):
            if any(r.value.event_id.int == 5 for r in batch):
                raise KeyError("a record this processor trips over")
            return Outcome(writes=[r.value.event_id for r in batch])

    batches = [msgs(0, range(4, 8)) for _ in range(3)]  # the same records, redelivered after each rewind
    runtime, consumer, producer, sink, _ = make_runtime(batches, processor=Picky())

    runtime.run()

    assert sorted(dead_lettered(producer)) == [5]
    assert dead_lettered(producer)[5]["herald.error.type"] == b"RepeatedFailure"
    assert sorted(e.int for batch in sink.batches for e in batch) == [4, 6, 7]
    assert consumer.committed == {(TOPIC, 0): 8}


def test_given_an_unknown_error_once_then_nothing_is_dead_lettered():
    runtime, consumer, producer, _, _ = make_runtime([msgs(0, [1, 2])], sink=ListSink(fail_with=KeyError("x")))

    runtime.run()

    assert producer.produced == [] and consumer.committed == {}


def test_given_a_transient_error_while_narrowing_then_the_whole_batch_is_rewound_and_nothing_dead_lettered():
    calls = {"n": 0}

    def refuse_then_lose_the_connection(event_id):
        calls["n"] += 1
        if calls["n"] > 10:
            return psycopg.OperationalError("server closed the connection unexpectedly")
        return refuse_bad(event_id)

    runtime, consumer, producer, _, journal = make_runtime(
        [msgs(0, range(10))], sink=ListSink(reject=refuse_then_lose_the_connection)
    )
    runtime.run()

    assert dead_lettered(producer) == {}
    assert consumer.committed == {}
    assert ("seek", (TOPIC, 0, 0)) in journal


@pytest.mark.parametrize(
    "exc, kind",
    [
        (psycopg.errors.StringDataRightTruncation("x"), Failure.DATA),
        (psycopg.errors.UntranslatableCharacter("x"), Failure.DATA),
        (psycopg.errors.CharacterNotInRepertoire("x"), Failure.DATA),
        (psycopg.errors.UniqueViolation("x"), Failure.DATA),
        (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), Failure.DATA),
        (psycopg.errors.SerializationFailure("x"), Failure.TRANSIENT),
        (psycopg.errors.DeadlockDetected("x"), Failure.TRANSIENT),
        (psycopg.OperationalError("connection lost"), Failure.TRANSIENT),
        (KafkaException(KafkaError(KafkaError._TRANSPORT)), Failure.TRANSIENT),
        (KafkaException(KafkaError(KafkaError._FENCED, fatal=True)), Failure.FATAL),
        (ValueError("a bug"), Failure.UNKNOWN),
    ],
)
def test_classify(exc, kind):
    assert classify(exc) is kind


def test_classify_reads_the_driver_error_inside_a_wrapper():
    class WrapperError(Exception):  # as SQLAlchemy's DBAPIError keeps the driver's error in ``orig``
        def __init__(self, orig):
            super().__init__(str(orig))
            self.orig = orig

    assert classify(WrapperError(psycopg.errors.StringDataRightTruncation("x"))) is Failure.DATA
    assert classify(WrapperError(psycopg.OperationalError("x"))) is Failure.TRANSIENT


# --- Kafka transactions -----------------------------------------------------------------------------


class Fanout:
    name = "fanout"

    def handle(self, batch):
        return Outcome(writes=[r.value.event_id for r in batch], outputs=[Output("push", b"k", b"v") for _ in batch])


def txn_runtime(batches, producer, *, factory=None):
    journal: list = []
    producer.journal = journal
    consumer = FakeConsumer(batches, journal=journal)
    clock = FakeClock()
    checkpoint = Checkpoint(
        consumer=consumer,
        producer=producer,
        sink=ListSink(journal=journal),
        dlq_topic_of=lambda t: DLQ,
        transactional=True,
        clock=clock,
        producer_factory=factory,
    )
    runtime = Runtime(
        consumer=consumer,
        topics=[TOPIC],
        decode=Decoder(SERDE, ActivityEvent.from_avro),
        processor=Fanout(),
        checkpoint=checkpoint,
        hooks=RuntimeHooks("fanout", "g"),
        config=default_loop_config(),
        clock=clock,
    )
    consumer.on_empty = runtime.stop
    return runtime, consumer, journal


def kafka(code, **flags) -> KafkaException:
    return KafkaException(KafkaError(code, **flags))


def test_given_an_abortable_commit_error_then_the_transaction_is_aborted_and_the_batch_redone():
    producer = FakeProducer(failures={"commit_transaction": [kafka(KafkaError._STATE, txn_requires_abort=True)]})
    runtime, consumer, journal = txn_runtime([msgs(0, [1, 2]), msgs(0, [1, 2])], producer)

    runtime.run()

    steps = [s[0] for s in journal if s[0] in ("begin_transaction", "commit_transaction", "abort_transaction", "seek")]
    assert steps == [
        "begin_transaction",
        "commit_transaction",
        "abort_transaction",
        "seek",
        "begin_transaction",
        "commit_transaction",
    ]
    assert ("send_offsets", [(TOPIC, 0, 3)]) in journal


def test_given_a_commit_that_times_out_then_it_is_called_again_not_aborted():
    producer = FakeProducer(failures={"commit_transaction": [kafka(KafkaError._TIMED_OUT, retriable=True)]})
    runtime, _, journal = txn_runtime([msgs(0, [1])], producer)

    runtime.run()

    assert [s[0] for s in journal].count("commit_transaction") == 2
    assert ("abort_transaction",) not in journal and not any(s[0] == "seek" for s in journal)


def test_given_a_fatal_error_then_the_producer_is_replaced_and_the_batch_redone_with_the_new_one():
    old = FakeProducer(failures={"send_offsets_to_transaction": [kafka(KafkaError._FENCED, fatal=True)]})
    new = FakeProducer()
    runtime, _, journal = txn_runtime([msgs(0, [1]), msgs(0, [1])], old, factory=lambda: new)

    runtime.run()

    assert ("purge",) in journal and ("abort_transaction",) not in journal  # a fatal producer cannot abort
    assert [s[0] for s in journal if s[0] == "seek"] == ["seek"]
    assert [s[0] for s in new.journal] == ["begin_transaction", "produce", "send_offsets", "commit_transaction"]


def test_given_a_fatal_error_and_no_way_to_replace_the_producer_then_the_process_exits_non_zero():
    producer = FakeProducer(failures={"commit_transaction": [kafka(KafkaError._FENCED, fatal=True)]})
    runtime, consumer, _ = txn_runtime([msgs(0, [1])], producer)

    with pytest.raises(SystemExit) as stopped:
        runtime.run()

    assert stopped.value.code == EXIT_FATAL
    assert consumer.committed == {} and consumer.closed


def test_given_the_abort_itself_fails_then_the_producer_is_retired():
    producer = FakeProducer(
        failures={
            "commit_transaction": [kafka(KafkaError._STATE, txn_requires_abort=True)],
            "abort_transaction": [kafka(KafkaError._STATE)],
        }
    )
    fresh = FakeProducer()
    runtime, _, journal = txn_runtime([msgs(0, [1]), msgs(0, [1])], producer, factory=lambda: fresh)

    runtime.run()

    assert ("purge",) in journal
    assert len(fresh.produced) == 1


# --- health: lag and readiness ----------------------------------------------------------------------


def test_given_a_rewound_partition_then_its_lag_is_never_reported_as_zero():
    seen: list[int] = []
    clock = FakeClock()
    runtime, consumer, _, _, _ = make_runtime(
        [msgs(0, [5, 6, 7]), [], []], clock=clock, sink=ListSink(fail_with=psycopg.OperationalError("db down"))
    )
    consumer.high_watermarks[(TOPIC, 0)] = 8
    report = runtime.hooks.on_lag
    runtime.hooks.on_lag = lambda t, p, n, s: (seen.append(n), report(t, p, n, s))
    consumer.subscribe([TOPIC], on_assign=runtime._on_assign)

    runtime.step()  # the batch fails and is rewound to offset 5
    clock.advance(60)
    runtime.step()  # the partition resumes; its first poll is empty
    runtime.step()

    assert seen and all(n == 3 for n in seen)


def test_readiness_fails_after_failed_batches_in_a_row_and_on_a_stalled_partition():
    from streams.health import consumer_ready

    clock = FakeClock()
    runtime, consumer, _, _, _ = make_runtime(
        [msgs(0, [5, 6, 7])] * 3, clock=clock, sink=ListSink(reject=lambda e: psycopg.OperationalError("db down"))
    )
    consumer.high_watermarks[(TOPIC, 0)] = 8
    consumer.subscribe([TOPIC], on_assign=runtime._on_assign)
    probe = consumer_ready(runtime.hooks, stall_timeout_s=60, max_failed_batches=3)
    runtime.step()
    assert probe().ok  # one failure: a retry is normal

    for _ in range(2):
        clock.advance(60)
        runtime.step()
    verdict = probe()

    assert not verdict.ok and "3 batches failed in a row" in verdict.detail
    runtime.hooks.failing = 0  # as if the failures stopped counting, the partition is still behind
    assert runtime.hooks.stalled(60, now=runtime.hooks._progress_at[(TOPIC, 0)] + 61) == [(TOPIC, 0)]


def test_a_quiet_partition_ending_in_a_commit_marker_is_not_stalled_while_others_are_busy():
    clock = FakeClock()
    batches = [msgs(0, [5]) + msgs(1, [1])] + [msgs(1, [n]) for n in range(2, 6)]
    runtime, consumer, _, _, _ = make_runtime(batches, clock=clock)
    consumer.high_watermarks.update({(TOPIC, 0): 7, (TOPIC, 1): 100})  # offset 6 of partition 0: a commit marker
    consumer.subscribe([TOPIC], on_assign=runtime._on_assign)

    runtime.step()
    consumer.positions[(TOPIC, 0)] = 7  # the consumer's position passes the marker, as librdkafka's does
    for _ in range(4):
        clock.advance(30)
        runtime.step()

    a_minute_on = max(runtime.hooks._progress_at.values()) + 61
    assert runtime.hooks.stalled(60, now=a_minute_on) == [(TOPIC, 1)]  # 1 is behind its end; 0 is done
