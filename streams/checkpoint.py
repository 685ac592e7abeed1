"""The commit order, written once (as Quix Streams' ``Checkpoint.commit`` does).

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
as sent). What it saves is a broker round trip on the polling thread for most batches and most of
the offset records the broker writes to ``__consumer_offsets`` (measured in
docs/decisions/0015-held-offset-commits.md). A transaction's offsets are never held: they commit with it.

``commit`` = ``prepare`` (1–3, or 1 and the transaction's produce) + ``finish`` (4, or the transaction's
offsets and commit). ``prepare`` never touches the consumer, so the pipelined runtime runs it on a
writer thread; ``finish`` runs on the thread that polls the consumer (a synchronous offset commit
from another thread can wait forever for a rebalance callback that is waiting for it).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable, Protocol, TypeVar

from confluent_kafka import KafkaException, TopicPartition

from streams.deadletter import to_output
from streams.errors import ClientFatal, ProduceFailed, reason_line
from streams.failures import Failure, classify, kafka_error
from streams.records import DeadLetter, Outcome, Output

log = logging.getLogger("herald.checkpoint")


W_contra = TypeVar("W_contra", contravariant=True)


class Sink(Protocol[W_contra]):
    """Where a processor's ``Outcome[W].writes`` go: ``Sink[W]`` (e.g. the directory's ``Sink[DirectoryBatch]``)."""

    def write(self, batch: W_contra) -> Iterable[DeadLetter] | None:
        """Makes ``batch`` durable in one transaction, called once per batch on the checkpoint's thread (the
        writer thread when pipelined); raising aborts the checkpoint: nothing of the batch is produced or
        committed and the runtime redoes it, so a write must be idempotent. A sink that refuses some
        records while writing the rest (the persister's conflicting duplicates) returns them as dead
        letters, produced with the batch's others; None or an empty iterable when it refused none."""


TXN_TIMEOUT_S = 10.0  # each transaction call's deadline: a broker that is gone never blocks the loop for longer
# How long past its own timeout ``send_offsets_to_transaction`` may block before the process gives up on
# its producer (see ``call_within``).
HUNG_CALL_GRACE_S = 10.0


class Checkpoint:
    """Carries one batch's Outcome out in the fixed order, then commits its offsets.

    Kafka errors are handled as librdkafka documents them: a transaction call that times out or fails
    retriably is called again until ``TXN_TIMEOUT_S``; an abortable error aborts the transaction and
    raises (the batch is redone); a fatal error, or any other error of a transaction call, retires the
    producer and raises ``ClientFatal``. The next batch then starts with a producer from
    ``producer_factory``, whose ``init_transactions`` fences the old one and aborts its open transaction
    at the coordinator. Without a factory the error stays fatal and the process exits non-zero for its
    supervisor to restart it. Either way the batch's offsets were not committed, so it is redone: the
    fan-out's bell rows are idempotent and its push requests are produced again.
    """

    def __init__(
        self,
        *,
        consumer: Any,
        producer: Any,
        sink: Sink[Any] | None,
        dlq_topic_of: Callable[[str], str],
        transactional: bool = False,
        flush_timeout_s: float = 30.0,
        commit_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        producer_factory: Callable[[], Any] | None = None,
        txn_timeout_s: float = TXN_TIMEOUT_S,
        group: str = "",
    ) -> None:
        self._consumer = consumer
        self._group = group  # the consumer group, named on every dead letter (streams/deadletter.py)
        self._producer = producer
        self._producer_factory = producer_factory
        self._sink = sink
        self._dlq_topic_of = dlq_topic_of  # source topic -> dead-letter topic
        self._transactional = transactional
        self._flush_timeout_s = flush_timeout_s
        self._txn_timeout_s = txn_timeout_s
        self._errors: list[str] = []
        self._in_transaction = False  # the batch being checkpointed opened a Kafka transaction
        self._commit_interval_s = commit_interval_s
        self._clock = clock
        self._held: dict[tuple[str, int], TopicPartition] = {}  # plain offsets not committed yet, per partition
        self._committed_at = clock()

    def commit(self, outcome: Outcome[Any], offsets: list[TopicPartition]) -> None:
        """Runs steps 1–4; raises (and commits nothing) when any step fails."""
        self.prepare(outcome)
        self.finish(offsets)

    def prepare(self, outcome: Outcome[Any]) -> None:
        """Step 1, then 2–3 (or, transactional and with outputs, begins the transaction and produces into it)."""
        self._in_transaction = False
        producer = self._live_producer()
        if outcome.writes is not None and self._sink is not None:
            outcome.dead_letters.extend(self._sink.write(outcome.writes) or ())  # 1
        outputs = outcome.outputs + [
            to_output(d, self._dlq_topic_of(d.message.topic()), group=self._group) for d in outcome.dead_letters
        ]
        if not (self._transactional and outputs):
            self._guarded(self._produce, outputs)  # 2
            self._guarded(self._flush)  # 3
            return
        self._guarded(producer.begin_transaction)
        self._in_transaction = True
        try:
            self._produce(outputs)  # 2, inside the transaction
        except Exception as exc:
            self._abort(exc)

    def finish(self, offsets: list[TopicPartition]) -> None:
        """Step 4 (a transaction open: the offsets join it, and it commits or aborts)."""
        if not self._in_transaction:
            for tp in offsets:  # 4, now or with a later batch's
                self._held[(tp.topic, tp.partition)] = tp
            if self._clock() - self._committed_at >= self._commit_interval_s:
                self.commit_held()
            return
        self._in_transaction = False
        try:
            if offsets:  # 3 + 4, atomically with the outputs
                metadata = self._consumer.consumer_group_metadata()
                producer = self._producer
                self._retrying(
                    lambda t: call_within(
                        lambda: producer.send_offsets_to_transaction(offsets, metadata, t),
                        t + HUNG_CALL_GRACE_S,
                        "send_offsets_to_transaction",
                    )
                )
            self._retrying(self._producer.commit_transaction)
        except ClientFatal:
            raise  # a hung call: nothing more can be asked of this producer, not even an abort
        except Exception as exc:
            self._abort(exc)
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

    def _live_producer(self) -> Any:
        """The producer, built anew when a fatal error retired the last one (raises while it cannot be)."""
        if self._producer is None:
            if self._producer_factory is None:
                raise ClientFatal("the producer failed fatally and cannot be replaced here", recoverable=False)
            self._producer = self._producer_factory()
            log.warning("producer replaced after a fatal error")
        return self._producer

    def _produce(self, outputs: list[Output]) -> None:
        self._errors = produce_all(self._producer, outputs)

    def _flush(self) -> None:
        wait_for_acks(self._producer, self._errors, self._flush_timeout_s)

    def _guarded(self, call: Callable[..., object], *args: Any) -> None:
        """Runs a producer call outside a transaction; a fatal Kafka error retires the producer."""
        try:
            call(*args)
        except KafkaException as exc:
            if classify(exc) is Failure.FATAL:
                self._retire(exc)
            raise

    def _retrying(self, call: Callable[[float], None]) -> None:
        """Calls a transaction call again while it fails retriably (a timeout), up to the deadline."""
        deadline = self._clock() + self._txn_timeout_s
        while True:
            try:
                call(max(deadline - self._clock(), 0.1))
                return
            except KafkaException as exc:
                err = kafka_error(exc)
                if err is None or not err.retriable() or self._clock() >= deadline:
                    raise

    def _abort(self, cause: Exception) -> None:
        """Aborts the open transaction after ``cause`` and re-raises it: as it is when the transaction could
        be aborted, as ``ClientFatal`` when the producer had to be retired (see the class doc)."""
        self._in_transaction = False
        err = kafka_error(cause) if isinstance(cause, KafkaException) else None
        if err is not None and (err.fatal() or not (err.txn_requires_abort() or err.retriable())):
            self._retire(cause)
        try:
            self._retrying(self._producer.abort_transaction)
        except KafkaException as exc:
            self._retire(exc)
        raise cause

    def _retire(self, exc: Exception) -> None:
        """Drops the producer after a fatal error: purged so that its queue dies with it."""
        log.error("producer retired: %s", reason_line(exc))
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.purge(in_queue=True, in_flight=True)
            except Exception:  # a fatal producer may refuse even this; it is dropped anyway
                pass
        raise ClientFatal(
            f"Kafka producer failed fatally: {reason_line(exc)}", recoverable=self._producer_factory is not None
        ) from exc


def call_within(call: Callable[[], object], timeout_s: float, what: str) -> None:
    """Runs ``call`` on a helper thread and waits at most ``timeout_s`` for it; raises what it raised.

    librdkafka's ``send_offsets_to_transaction`` can block forever, past its own timeout, when the
    group coordinator's broker died (librdkafka issues #5456, #5511: the coordinator request's timeout
    is never checked, and a coordinator whose broker left the metadata is never looked up again). On a
    cluster that is what a killed broker does to every fan-out whose group it coordinated. The blocked
    call holds the producer's transaction, so neither an abort nor a new producer beside it is safe:
    the process must exit (``ClientFatal``, not recoverable; ``EXIT_FATAL``) for its supervisor to start
    it again, whose ``init_transactions`` fences the old transaction. Its batch was not committed, so it
    is redone, exactly once as ever."""
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread as it is
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name=f"herald-{what}", daemon=True).start()
    if not done.wait(timeout_s):
        log.critical("%s did not return within %.0f s: the producer is stuck", what, timeout_s)
        raise ClientFatal(f"Kafka producer stuck: {what} did not return within {timeout_s:.0f} s", recoverable=False)
    if failure:
        raise failure[0]


def produce_all(producer: Any, outputs: list[Output]) -> list[str]:
    """Enqueues every output; returns the list that delivery failures are appended to as they are reported."""
    errors: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
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


def wait_for_acks(producer: Any, errors: list[str], timeout_s: float) -> None:
    """Flushes; raises ProduceFailed unless every record was acknowledged."""
    remaining = producer.flush(timeout_s)
    if remaining:
        raise ProduceFailed(f"{remaining} records not acknowledged within {timeout_s}s")
    if errors:
        raise ProduceFailed(f"{len(errors)} records failed; first: {errors[0]}")


def deliver(producer: Any, outputs: list[Output], timeout_s: float = 30.0) -> None:
    """Produces ``outputs`` and waits until the broker acknowledged all of them (jobs outside the loop:
    the scheduler and the reconciler produce, wait, and only then commit their database transaction)."""
    wait_for_acks(producer, produce_all(producer, outputs), timeout_s)
