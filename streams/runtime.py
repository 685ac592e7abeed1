"""The one consumer loop every processor runs: poll → decode → handle → checkpoint.

Synchronous by default: a batch is committed (or rewound) before the next poll. Pipelined
(``LoopConfig.pipelined``): ``Checkpoint.prepare`` of batch N (sink transaction, outputs) runs on one
writer thread while the loop polls, decodes and handles batch N+1; the loop then finishes N (offset
commit, or the Kafka transaction's commit) itself, on the consumer's thread, before handing N+1 to
the writer. A batch with outputs for other processors (the fan-out's push requests) that was not a
full batch is finished before the loop waits for N+1 instead (``_poll``), so its outputs are not held
back by that wait. At most one batch is in flight, so batches still commit in order.

A failed batch is handled by the kind of its failure (streams/failures.py). A transient one (a
connection lost, the broker unavailable) rewinds it: its partitions seek back to the batch's first
offsets and pause for a backoff, then resume; in pipelined mode the batch handled meanwhile is rewound
with it (it was not written). A data error (a value the database refuses), or an error of unknown kind
that repeats at the same offsets, is narrowed down to the records that cause it (``_isolate``): they
are dead-lettered with the error's first line and the rest of the batch is written, so a record that
can never be stored never stalls its partition. A fatal client error that cannot be recovered from
stops the loop with exit code ``EXIT_FATAL`` for the supervisor to restart the process: a producer's
from the checkpoint (unless it can build a new producer), the consumer's from a message that carries
it or from its error callback (``client_errors``: librdkafka reports some fatal errors, a static
member fenced by another with its ``group.instance.id``, only there). When a rebalance revokes
partitions (inside ``consume``), ``_on_revoke`` first waits for the checkpoint in flight and then
commits the offsets the checkpoint holds (plain commits are held up to ``HERALD_COMMIT_INTERVAL_MS``,
see streams/checkpoint.py), so no finished work is left uncommitted on partitions this member gives
up; an idle poll and shutdown commit them too. The wait has a deadline, SIGTERM's
(``shutdown_timeout_s``): a database or broker that hangs must not hold the rebalance callback until
``max.poll.interval.ms`` throws the member out and the whole group waits for it. Past the deadline the
revocation completes without the batch in flight: it finishes later on the loop, and its offsets are
committed only for partitions still assigned then, so the next owner of a revoked partition redoes it
(idempotently, as after a crash). docs/decisions/0160-revoke-deadline.md
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Protocol, Sequence

from confluent_kafka import TopicPartition

from streams.checkpoint import Checkpoint
from streams.client_errors import ClientErrors, is_fatal
from streams.errors import ClientFatal, SinkBackpressure, reason_line
from streams.failures import Failure, classify
from streams.metrics import RuntimeHooks
from streams.narrowing import narrow
from streams.records import DeadLetter, Message, Outcome, Record, Skipped, W
from streams.replays import Decode
from streams.retry import RetryPolicy, compute_backoff
from streams.shutdown import arm_deadline
from streams.tracing import BatchTrace, end_batch, handling, start_batch

log = logging.getLogger("herald.runtime")


class Processor(Protocol[W]):
    """A processor whose batches write ``W`` values; the runtime pairs it with a ``Sink[W]``."""

    name: str

    def handle(self, batch: list[Record]) -> Outcome[W]:
        """Decides what a batch of decoded records leads to; pure of I/O where it can be."""


@dataclass(frozen=True, kw_only=True)
class LoopConfig:
    """The loop's knobs. Those that are settings have no default here: ``streams.app.loop_config`` builds
    this from ``RuntimeSettings``, where each default is written once (and documented)."""

    batch_max_records: int
    batch_timeout_s: float
    pipelined: bool
    # True: a batch is whatever is already queued when the loop asks (``consume(max, 0)``); when nothing
    # is, the loop waits at most the batch timeout for the first record (``consume(1, timeout)``) and
    # takes it with whatever arrived along with it. False: ``consume(max, timeout)`` waits the whole
    # timeout unless ``max`` records are queued, even with a backlog (fuller batches, fewer commits).
    eager: bool
    # After SIGTERM the loop has this long to finish its batch, commit and close; past it the process
    # exits non-zero at once (a broker that is gone must not keep a process from stopping). Nothing
    # is lost: offsets are committed only after their batch's effects are durable.
    shutdown_timeout_s: float
    # A partition behind its end with no batch done for this long counts as stalled (herald_partition_stalled).
    stall_timeout_s: float
    retry: RetryPolicy = RetryPolicy(base=0.5, cap=30.0)
    # A batch that fails with an error of unknown kind this many times in a row at the same offsets is
    # narrowed down to its offending records, as a data error is at once (``Runtime._isolate``).
    isolate_after: int = 3


STALL_CHECK_INTERVAL_S = 1.0
EXIT_FATAL = 70  # a Kafka client failed fatally and could not be replaced: the supervisor restarts the process


class Runtime:
    """Runs one processor over its subscribed topics until stopped."""

    def __init__(
        self,
        *,
        consumer: Any,
        topics: list[str],
        decode: Decode,
        processor: Processor[Any],
        checkpoint: Checkpoint,
        hooks: RuntimeHooks,
        config: LoopConfig,
        clock: Callable[[], float] = time.monotonic,
        client_errors: ClientErrors | None = None,
    ) -> None:
        self._consumer = consumer
        self._client_errors = client_errors  # the consumer's error callback (streams/client_errors.py)
        self._topics = topics
        self._decode = decode
        self._processor = processor
        self._checkpoint = checkpoint
        self._hooks = hooks
        self._config = config
        self._clock = clock
        self._stopping = False
        self._deadline: threading.Timer | None = None  # armed by SIGTERM (streams/shutdown.py)
        self._paused: dict[tuple[str, int], float] = {}  # partition -> resume at
        self._assigned: set[tuple[str, int]] = set()
        self._failures = 0
        self._writer = (
            ThreadPoolExecutor(1, thread_name_prefix=f"{processor.name}-checkpoint") if config.pipelined else None
        )
        self._inflight: _InFlight | None = None
        # Where the last failed batch started (topic, partition, offset), to see a failure repeat.
        self._failed_at: tuple[tuple[str, int, int], ...] | None = None
        self._repeats = 0
        self._stalls_checked_at = clock()

    def run(self) -> None:
        """Loops until ``stop()`` (or SIGTERM); finishes the batch in hand, then closes the consumer."""
        self._hooks.on_start(self._topics)
        self._consumer.subscribe(
            self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        try:
            while not self._stopping:
                self.step()
            self._settle()
            self._commit_held()
        except ClientFatal as exc:
            self._hooks.on_fatal(reason_line(exc))
            log.critical("stopping: %s (exit %d: restart the process)", reason_line(exc), EXIT_FATAL)
            raise SystemExit(EXIT_FATAL) from exc
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
            self._consumer.close()
            if self._deadline is not None:  # closed in time: the deadline must not end what runs after
                self._deadline.cancel()

    def step(self) -> None:
        """One turn of the loop: the next batch, or, when none came, the batch in flight finished and the
        offsets held committed."""
        self._hooks.on_loop()
        self._check_stalls()
        self._resume_due()
        messages = self._poll()
        self._check_fatal()
        if messages:
            self._process(messages)
        else:
            self._settle()
            self._commit_held()
            self._record_idle_lag()

    def stop(self) -> None:
        self._stopping = True

    def _check_fatal(self) -> None:
        """Raises ``ClientFatal`` (the process exits ``EXIT_FATAL``) once the consumer's error callback
        reported a fatal error: such a consumer delivers nothing more, and a loop that went on polling it
        would look alive to its liveness probe while its partitions stall."""
        fatal = self._client_errors.fatal if self._client_errors is not None else None
        if fatal is not None:
            raise ClientFatal(f"Kafka consumer failed fatally: {fatal}", recoverable=False)

    def _check_stalls(self) -> None:
        """Keeps ``herald_partition_stalled`` current, once a second (the alert rule reads it). The lag of
        every unpaused partition is refreshed from its position first: a partition whose last batch
        ended just before a transaction's commit marker reads 1 behind until its position passes the
        marker, and with traffic on other partitions the loop is never idle to notice."""
        now = self._clock()
        if now - self._stalls_checked_at >= STALL_CHECK_INTERVAL_S:
            self._stalls_checked_at = now
            busy = {(m.topic(), m.partition()) for m in self._inflight.messages} if self._inflight else set()
            self._record_idle_lag(busy)
            self._hooks.stalled(self._config.stall_timeout_s)

    def _poll(self) -> list[Message]:
        """The next batch (see ``LoopConfig.eager``). Before it waits for records, the loop finishes a
        batch in flight that has outputs for other processors (pipelined mode): otherwise those would
        land only after the wait and the next batch's handling (the fan-out's push requests sat ~100 ms
        in an open transaction that way). A full batch before (a backlog) keeps the overlap.

        Eager, with nothing queued: ``consume(max, timeout)`` would sit out the whole timeout even when
        records land a millisecond in (it returns early only for ``max`` records), so the loop waits
        for one record and then takes what came with it (docs/decisions/0032-short-batch-waits.md)."""
        size, timeout = self._config.batch_max_records, self._config.batch_timeout_s
        if self._config.eager:
            queued = self._consumer.consume(size, 0)
            if queued:
                return list(queued)
        inflight = self._inflight
        if inflight is not None and inflight.outcome.outputs and len(inflight.messages) < size:
            started = self._clock()
            self._settle()
            timeout = max(timeout - (self._clock() - started), 0.0)
        if self._config.eager:
            first = self._consumer.consume(1, timeout)
            return list(first + self._consumer.consume(size - 1, 0) if first and size > 1 else first)
        return list(self._consumer.consume(size, timeout))

    @property
    def hooks(self) -> RuntimeHooks:
        """The loop's metrics hooks; their heartbeat and assignment feed /healthz and /readyz (streams.health)."""
        return self._hooks

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop after the current batch (called from ``__main__``)."""
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        log.info(
            "signal %s: finishing the batch in hand, then closing (deadline %.0fs)",
            signum,
            self._config.shutdown_timeout_s,
        )
        if not self._stopping:
            self._deadline = arm_deadline(self._config.shutdown_timeout_s)
        self.stop()

    def _process(self, messages: list[Message]) -> None:
        started = self._clock()
        messages = [m for m in messages if not self._is_error(m)]
        decoded = [self._decode(m) for m in messages]
        batch = [d for d in decoded if isinstance(d, Record)]
        dead = [d for d in decoded if isinstance(d, DeadLetter)]
        trace = start_batch(self._processor.name, batch)  # None unless tracing is on (streams/tracing.py)
        try:
            with handling(trace):
                outcome = self._processor.handle(batch) if batch else Outcome()
            outcome.dead_letters.extend(dead)
        except Exception as exc:
            end_batch(trace, exc)
            if self._settle():
                self._failed(messages, decoded, exc)
            else:  # the batch before failed too: its rewind is the earlier position
                self._rewind(messages, 0.0, None)
            return
        if self._writer is None:
            try:
                self._checkpoint.commit(outcome, offsets_after(messages))
            except Exception as exc:  # any failure before the commit: redo the batch
                end_batch(trace, exc)
                self._failed(messages, decoded, exc)
                return
            end_batch(trace)
            self._done(messages, outcome, started)
            return
        if not self._settle():  # the batch before failed and was rewound: this one goes with it
            end_batch(trace)
            self._rewind(messages, 0.0, None)
            return
        self._inflight = _InFlight(
            self._writer.submit(self._checkpoint.prepare, outcome), messages, decoded, outcome, started, trace
        )

    def _settle(self, timeout_s: float | None = None) -> bool | None:
        """Finishes the batch in flight (pipelined mode): waits for its writes, then commits its
        offsets here, on the consumer's thread, for the partitions still assigned. False when it failed
        (and was rewound). With ``timeout_s``, a write not done by then is left in flight (None)."""
        if self._inflight is None:
            return True
        if timeout_s is not None and not wait([self._inflight.future], timeout_s).done:
            return None
        inflight, self._inflight = self._inflight, None
        try:
            inflight.future.result()
            self._checkpoint.finish(self._owned(offsets_after(inflight.messages)))
        except Exception as exc:
            end_batch(inflight.trace, exc)
            return self._failed(inflight.messages, inflight.decoded, exc)
        end_batch(inflight.trace)
        self._done(inflight.messages, inflight.outcome, inflight.started)
        return True

    def _owned(self, offsets: list[TopicPartition]) -> list[TopicPartition]:
        """Those of ``offsets`` on partitions still assigned: a batch that outlived its partitions' revocation
        (``_settle_before_leaving``) commits nothing for them; their next owner redoes it."""
        return [tp for tp in offsets if (tp.topic, tp.partition) in self._assigned]

    def _failed(self, messages: list[Message], decoded: list[Record | DeadLetter | Skipped], exc: Exception) -> bool:
        """Decides what a failed batch's failure calls for (streams/failures.py): a data error, or an error
        of unknown kind that keeps failing at the same offsets, narrows the batch down to its offending
        records (True when that finished the batch); anything else rewinds it for a retry (False)."""
        if isinstance(exc, ClientFatal) and not exc.recoverable:
            raise exc
        if isinstance(exc, SinkBackpressure):
            self._rewind(messages, exc.retry_after, exc)
            return False
        kind = classify(exc)
        if kind is Failure.DATA or (kind is Failure.UNKNOWN and self._repeated(messages)):
            return self._isolate(messages, decoded, exc, kind)
        self._retry_later(messages, exc)
        return False

    def _retry_later(self, messages: list[Message], exc: Exception) -> None:
        self._failures += 1  # any failure before the commit: redo the batch
        self._rewind(
            messages,
            compute_backoff(self._failures, base=self._config.retry.base, cap=self._config.retry.cap, jitter=True),
            exc,
        )

    def _repeated(self, messages: list[Message]) -> bool:
        """Counts this failure against the batch's start; True once it failed ``isolate_after`` times there."""
        at = tuple((tp.topic, tp.partition, tp.offset) for tp in offsets_at_start(messages))
        self._repeats = self._repeats + 1 if at == self._failed_at else 1
        self._failed_at = at
        return self._repeats >= self._config.isolate_after

    def _isolate(
        self, messages: list[Message], decoded: list[Record | DeadLetter | Skipped], exc: Exception, kind: Failure
    ) -> bool:
        """Writes the batch in ever smaller parts (halves of halves, in order) until the records that fail
        on their own are found; those are dead-lettered with the error's first line, everything else is
        written, and the batch's offsets commit. A transient error on the way rewinds the whole batch
        (the parts written are written again, idempotently)."""
        started = self._clock()
        log.warning(
            "batch of %d failed (%s error: %s); narrowing it down to the records that cause it",
            len(messages),
            kind.value,
            reason_line(exc),
        )
        records = [d for d in decoded if isinstance(d, Record)]
        rejected: list[DeadLetter] = []
        produced: list[DeadLetter] = []  # the processor's own dead letters, produced with their parts
        try:
            self._bisect(records, rejected, produced)
            outcome: Outcome[Any] = Outcome(dead_letters=[d for d in decoded if isinstance(d, DeadLetter)] + rejected)
            self._checkpoint.commit(outcome, self._owned(offsets_after(messages)))
        except Exception as again:
            if isinstance(again, ClientFatal) and not again.recoverable:
                raise
            self._retry_later(messages, again)
            return False
        self._failed_at, self._repeats = None, 0
        self._done(messages, Outcome(dead_letters=outcome.dead_letters + produced), started)
        return True

    def _bisect(self, records: list[Record], rejected: list[DeadLetter], produced: list[DeadLetter]) -> None:
        """Writes ``records`` part by part (streams/narrowing.py); those that fail alone join ``rejected``."""

        def write(part: Sequence[Record]) -> None:
            outcome = self._processor.handle(list(part))
            self._checkpoint.commit(outcome, [])
            produced.extend(outcome.dead_letters)

        for record, exc in narrow(records, write, _isolates):
            error_type = "DataError" if classify(exc) is Failure.DATA else "RepeatedFailure"
            rejected.append(DeadLetter(reason_line(exc), error_type, record.message))

    def _done(self, messages: list[Message], outcome: Outcome[Any], started: float) -> None:
        self._failures = 0
        self._report(messages, outcome.dead_letters, started)  # decode's and the processor's dead letters

    def _is_error(self, msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return False
        if is_fatal(err):
            raise ClientFatal(f"Kafka consumer failed fatally: {err.str()}", recoverable=False)
        log.warning("consumer error: %s", err)
        return True

    def _rewind(self, messages: list[Message], wait_s: float, exc: Exception | None) -> None:
        """Seeks every partition of the batch back to its first offset and pauses it for ``wait_s``
        (``exc`` None: a batch rewound with the failed one before it, which paused its partitions)."""
        if exc is not None:
            log.warning(
                "batch of %d failed (%s: %s); retrying in %.1fs",
                len(messages),
                type(exc).__name__,
                reason_line(exc),
                wait_s,
            )
            self._hooks.on_batch_failed(Counter(m.topic() for m in messages), reason_line(exc))
        resume_at = self._clock() + wait_s
        for tp in offsets_at_start(messages):
            key = (tp.topic, tp.partition)
            if key not in self._assigned:
                continue
            if exc is None and key in self._paused:
                continue  # the failed batch's rewind already set this partition's position, which is earlier
            self._consumer.pause([tp])
            self._consumer.seek(tp)
            self._paused[key] = resume_at
            if exc is not None:
                self._record_behind(tp, _oldest_timestamp(messages, key))

    def _resume_due(self) -> None:
        now = self._clock()
        due = [tp for tp, at in self._paused.items() if at <= now]
        if due:
            self._consumer.resume([TopicPartition(t, p) for t, p in due])
            for tp in due:
                del self._paused[tp]

    def _report(self, messages: list[Message], dead: list[DeadLetter], started: float) -> None:
        dead_ids = {id(d.message) for d in dead}
        ok = Counter(m.topic() for m in messages if id(m) not in dead_ids)
        dead_counts = Counter((d.message.topic(), d.error_type) for d in dead)
        newest = max((m.timestamp()[1] for m in messages), default=0)
        self._hooks.on_batch_done(ok, dead_counts, started, newest)
        self._record_lag(messages)

    def _record_lag(self, messages: list[Message]) -> None:
        last: dict[tuple[str, int], Message] = {}
        for m in messages:
            last[(m.topic(), m.partition())] = m
        for (topic, partition), m in last.items():
            _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            behind = max(high - (m.offset() + 1), 0) if high >= 0 else 0
            age = max(time.time() - m.timestamp()[1] / 1000, 0.0) if behind else 0.0
            self._hooks.on_lag(topic, partition, behind, age)
            self._hooks.on_progress(topic, partition)

    def _record_idle_lag(self, busy: AbstractSet[tuple[str, int]] = frozenset()) -> None:
        """After an empty poll, each unpaused partition's lag from its position and its end offset as last
        fetched: 0 when caught up, never 0 for one that is behind (a partition just resumed after a rewind
        polls empty before its first fetch returns). ``busy``: partitions of the batch in flight, whose
        position is past records not yet durable."""
        idle = [TopicPartition(t, p) for t, p in self._assigned - set(self._paused) - busy]
        if not idle:
            return
        try:
            positions = self._consumer.position(idle)
        except Exception as exc:  # no position to report from: keep the last figures
            log.debug("position unavailable: %s", exc)
            return
        for tp in positions:
            if tp.offset >= 0:
                self._record_behind(tp, None)

    def _record_behind(self, tp: TopicPartition, oldest_ms: int | None) -> None:
        """Reports how far ``tp``'s position (``tp.offset``) is behind its end offset; the age is that of
        ``oldest_ms`` (the oldest record not yet done) when known, else the last age reported stays."""
        _, high = self._consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), cached=True)
        if high < 0:
            return
        behind = max(high - tp.offset, 0)
        age = max(time.time() - oldest_ms / 1000, 0.0) if behind and oldest_ms else None
        self._hooks.on_lag(tp.topic, tp.partition, behind, 0.0 if not behind else age)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        for tp in partitions:
            self._hooks.on_assign_partition(tp.topic, tp.partition)
        self._hooks.on_rebalance("assign", len(self._assigned))
        log.info("assigned %s", _names(partitions))

    def _commit_held(self, leaving: Sequence[TopicPartition] = ()) -> None:
        """Commits the offsets the checkpoint holds (``Checkpoint.commit_held``). A failure is logged, not
        raised: the batches are done and durable, the offsets stay held for the next commit; those of
        partitions ``leaving`` are dropped (their next owner redoes those batches, idempotently)."""
        try:
            self._checkpoint.commit_held()
        except Exception as exc:
            log.warning("offset commit failed (kept for the next one): %s", exc)
        finally:
            self._checkpoint.forget(leaving)

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Commits the checkpoint in flight, if any, unless it outlasts the deadline (see module doc), and
        the offsets held, then forgets the partitions."""
        self._settle_before_leaving(partitions)
        self._commit_held(partitions)
        for tp in partitions:
            self._assigned.discard((tp.topic, tp.partition))
            self._paused.pop((tp.topic, tp.partition), None)
            self._hooks.on_forget_partition(tp.topic, tp.partition)
        self._hooks.on_rebalance("revoke", len(self._assigned))
        log.info("revoked %s", _names(partitions))

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Like a revocation, but the partitions already belong to another member: nothing is committed
        for them (a commit for them would be refused anyway)."""
        self._assigned -= {(tp.topic, tp.partition) for tp in partitions}  # the batch in flight commits none
        self._checkpoint.forget(partitions)
        self._on_revoke(consumer, partitions)

    def _settle_before_leaving(self, partitions: list[TopicPartition]) -> None:
        """``_settle`` within the deadline; past it, one line, and the revocation goes on without the batch."""
        timeout_s = self._config.shutdown_timeout_s
        if self._settle(timeout_s) is None and self._inflight is not None:
            log.warning(
                "revoking %s: the batch in flight (%d records) is not written after %.0fs; its offsets "
                "on these partitions are not committed, their next owner redoes it",
                _names(partitions),
                len(self._inflight.messages),
                timeout_s,
            )


@dataclass(slots=True)
class _InFlight:
    """The batch whose checkpoint runs on the writer thread (pipelined mode)."""

    future: Future[None]
    messages: list[Message]
    decoded: list[Record | DeadLetter | Skipped]
    outcome: Outcome[Any]
    started: float
    trace: BatchTrace | None = None  # its spans end when it is durable (streams/tracing.py)


def _isolates(exc: Exception) -> bool:
    """Whether a part's failure is one of its records' (narrow further) rather than the world's (give up)."""
    return classify(exc) in (Failure.DATA, Failure.UNKNOWN) and not isinstance(exc, (ClientFatal, SinkBackpressure))


def _oldest_timestamp(messages: list[Message], key: tuple[str, int]) -> int | None:
    stamps = [m.timestamp()[1] for m in messages if (m.topic(), m.partition()) == key]
    return min(stamps) if stamps else None


def offsets_after(messages: list[Message]) -> list[TopicPartition]:
    """The offsets to commit: for each partition, one past its last message in the batch."""
    high: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic(), m.partition())
        high[key] = max(high.get(key, -1), m.offset())
    return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(high.items())]


def offsets_at_start(messages: list[Message]) -> list[TopicPartition]:
    """For each partition, its first offset in the batch (where a redo starts)."""
    low: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic(), m.partition())
        low[key] = min(low.get(key, m.offset()), m.offset())
    return [TopicPartition(t, p, o) for (t, p), o in sorted(low.items())]


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"
