"""The commit order, written once (STYLE 7; Quix ``Checkpoint.commit``).

1. write sinks (one Postgres transaction)
2. produce outputs and dead letters
3. flush the producer and check every acknowledgement
4. commit the consumed offsets

Any failure before 4 raises: offsets stay where they were, the runtime redoes the batch, and
idempotent sinks absorb the repeat. In transactional mode steps 2–4 are one Kafka transaction
(produce, ``send_offsets_to_transaction``, commit), so outputs and offsets land together or not at all.
A batch with nothing to produce has nothing to make atomic with its offsets: it skips the transaction
and commits them as a plain (synchronous) offset commit, one request instead of AddOffsetsToTxn,
TxnOffsetCommit, EndTxn and the commit markers the broker then writes. The push sender's batches are
almost all like that (its outputs are dead letters only); the fan-out's are not. Mixing the two kinds
of commit in one group is safe: the group coordinator keeps whichever commit came last in its log
(a transactional commit that is still pending when a later plain one lands is not applied over it),
and a zombie's plain commit is refused by the group generation as its transaction would be by the
producer epoch.

Plain offset commits are held for up to ``commit_interval_s`` (``HERALD_COMMIT_INTERVAL_MS``, 1 s by
default; 0 commits every batch): a batch's offsets are committed with a later batch's, once the interval
has passed since the last commit, and always when the loop goes idle, before partitions are revoked and
at shutdown (the runtime calls ``commit_held``). Nothing finished is lost by holding: the batch's effects
are durable before its offsets are held, and a crash only makes the restarted member redo those batches
against idempotent sinks (the persister's rows by key; the push sender skips pairs already recorded
as sent). What it saves is a broker round trip on the polling thread for most batches (the push
sender's was ~7 ms of a ~100 ms cycle at ~500 events/s) and most of the offset records the broker
writes to ``__consumer_offsets`` (docs/benchmarks.md, twelfth session). A transaction's offsets are
never held: they commit with it.

``commit`` = ``prepare`` (1–3, or 1 and the transaction's produce) + ``finish`` (4, or the transaction's
offsets and commit). ``prepare`` never touches the consumer, so the pipelined runtime runs it on a
writer thread; ``finish`` runs on the thread that polls the consumer (a synchronous offset commit
from another thread can wait forever for a rebalance callback that is waiting for it).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Protocol

from confluent_kafka import TopicPartition

from streams.deadletter import to_output
from streams.errors import ProduceFailed
from streams.records import Outcome, Output


class Sink(Protocol):
    def write(self, batch: Any) -> None:
        """Makes ``batch`` durable in one transaction; raising aborts the checkpoint."""


class Checkpoint:
    """Carries one batch's Outcome out in the fixed order, then commits its offsets."""

    def __init__(self, *, consumer, producer, sink: Sink | None, dlq_topic_of, transactional: bool = False,
                 flush_timeout_s: float = 30.0, commit_interval_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._consumer = consumer
        self._producer = producer
        self._sink = sink
        self._dlq_topic_of = dlq_topic_of  # source topic -> dead-letter topic
        self._transactional = transactional
        self._flush_timeout_s = flush_timeout_s
        self._errors: list[str] = []
        self._in_transaction = False  # the batch being checkpointed opened a Kafka transaction
        self._commit_interval_s = commit_interval_s
        self._clock = clock
        self._held: dict[tuple[str, int], TopicPartition] = {}  # plain offsets not committed yet, per partition
        self._committed_at = clock()

    def commit(self, outcome: Outcome, offsets: list[TopicPartition]) -> None:
        """Runs steps 1–4; raises (and commits nothing) when any step fails."""
        self.prepare(outcome)
        self.finish(offsets)

    def prepare(self, outcome: Outcome) -> None:
        """Step 1, then 2–3 (or, transactional and with outputs, begins the transaction and produces into it)."""
        self._in_transaction = False
        if outcome.writes is not None and self._sink is not None:
            self._sink.write(outcome.writes)  # 1
        outputs = outcome.outputs + [to_output(d, self._dlq_topic_of(d.message.topic())) for d in outcome.dead_letters]
        self._in_transaction = self._transactional and bool(outputs)
        if not self._in_transaction:
            self._produce(outputs)  # 2
            self._flush()  # 3
            return
        self._producer.begin_transaction()
        try:
            self._produce(outputs)  # 2, inside the transaction
        except Exception:
            self._producer.abort_transaction()
            raise

    def finish(self, offsets: list[TopicPartition]) -> None:
        """Step 4 (a transaction open: the offsets join it, and it commits or aborts)."""
        if not self._in_transaction:
            for tp in offsets:  # 4, now or with a later batch's
                self._held[(tp.topic, tp.partition)] = tp
            if self._clock() - self._committed_at >= self._commit_interval_s:
                self.commit_held()
            return
        try:
            if offsets:  # 3 + 4, atomically with the outputs
                self._producer.send_offsets_to_transaction(offsets, self._consumer.consumer_group_metadata())
            self._producer.commit_transaction()
        except Exception:
            self._producer.abort_transaction()
            raise
        self.forget(offsets)  # committed past anything held for those partitions

    def commit_held(self) -> None:
        """Commits the held plain offsets now (synchronously); they stay held if the commit raises."""
        self._committed_at = self._clock()
        if self._held:
            self._consumer.commit(offsets=list(self._held.values()), asynchronous=False)
            self._held.clear()

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drops what is held for ``partitions`` (their positions were committed otherwise, or they now
        belong to another member, which redoes the batches since the last commit)."""
        for tp in partitions:
            self._held.pop((tp.topic, tp.partition), None)

    def _produce(self, outputs: list[Output]) -> None:
        self._errors = produce_all(self._producer, outputs)

    def _flush(self) -> None:
        wait_for_acks(self._producer, self._errors, self._flush_timeout_s)


def produce_all(producer, outputs: list[Output]) -> list[str]:
    """Enqueues every output; returns the list that delivery failures are appended to as they are reported."""
    errors: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is not None:
            errors.append(f"{msg.topic()}: {err}")

    for out in outputs:
        while True:
            try:
                producer.produce(out.topic, out.value, out.key, headers=out.headers, on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: serve callbacks until there is room
                producer.poll(0.1)
    return errors


def wait_for_acks(producer, errors: list[str], timeout_s: float) -> None:
    """Flushes; raises ProduceFailed unless every record was acknowledged."""
    remaining = producer.flush(timeout_s)
    if remaining:
        raise ProduceFailed(f"{remaining} records not acknowledged within {timeout_s}s")
    if errors:
        raise ProduceFailed(f"{len(errors)} records failed; first: {errors[0]}")


def deliver(producer, outputs: list[Output], timeout_s: float = 30.0) -> None:
    """Produces ``outputs`` and waits until the broker acknowledged all of them (jobs outside the loop:
    the scheduler and the reconciler produce, wait, and only then commit their database transaction)."""
    wait_for_acks(producer, produce_all(producer, outputs), timeout_s)
