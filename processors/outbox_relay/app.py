"""The outbox relay: each pass, in one transaction of the EMR's database, claim the oldest rows whose key no
other relay holds, produce them to the activity topic, wait for every acknowledgement, delete them, commit.

* **Order per key.** The writer makes ``seq`` order the commit order within a key (streams/outbox.py); a
  pass claims rows in ``seq`` order and holds a transaction-scoped advisory lock on each claimed key
  (``pg_try_advisory_xact_lock(RELAY_LOCK_CLASS, hashtext(aggregateid))``), so several relays share the
  work by key and a key's rows are sent by one relay at a time, oldest first. ``FOR UPDATE SKIP LOCKED``
  drops rows another relay deleted after this statement's snapshot was taken.
* **Bounded locking.** The lock is tried on the rows of a window of the oldest ``10 × batch`` rows, in
  order, and stops at ``batch`` claimed rows: a large backlog never takes thousands of locks.
* **At least once.** Rows are deleted only after the broker acknowledged them; a crash in between sends
  them again with the same event id, which every sink keys on (the persister's primary key).
* **Poison rows.** A payload Herald cannot decode, or a record the broker refuses for good (too large),
  moves to the dead-letter table with its reason in the same transaction; the rows behind it flow.
* **Tracing.** A row written with tracing on carries its span's W3C context; it goes out as the record's
  ``traceparent`` / ``tracestate`` headers, so the persister's and fan-out's spans join the writer's trace.
* **Transient failures.** Anything else (broker down, a timeout, the database gone) raises: the transaction
  rolls back, the rows stay, and the loop retries with backoff.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from sqlalchemy import Engine, text

from processors.outbox_relay.metrics import DEAD_LETTERED, FAILURES, PUBLISHED, on_counted
from processors.outbox_relay.verdicts import payload_problem, refused_for_good
from streams.errors import ClientFatal, ProduceFailed
from streams.health import Check, Probe
from streams.outbox_schema import DEFAULT_TABLE, RELAY_LOCK_CLASS, checked_table, dead_table
from streams.serde import AvroSerde
from streams.tracing import TRACEPARENT, TRACESTATE

log = logging.getLogger("herald.outbox_relay")

WINDOW_FACTOR = 10  # rows looked at per row claimed: room for a second relay to find keys the first holds not


@dataclass(frozen=True)
class PassReport:
    claimed: int
    published: int
    dead: int


@dataclass
class _Row:
    id: Any
    aggregateid: str
    payload: bytes | None
    headers: list[tuple[str, bytes]] | None = None  # the writer's trace context, when it was traced
    error: KafkaError | None = None
    acked: bool = False


def trace_headers(traceparent: str | None, tracestate: str | None) -> list[tuple[str, bytes]] | None:
    """The record headers of a row's trace context (streams/tracing.py reads them downstream)."""
    if not traceparent:
        return None
    headers = [(TRACEPARENT, traceparent.encode("ascii"))]
    return headers + [(TRACESTATE, tracestate.encode("ascii"))] if tracestate else headers


def claim_sql(table: str) -> str:
    t = checked_table(table)
    return (
        "WITH claimed AS MATERIALIZED ("
        f" SELECT id FROM (SELECT id, aggregateid FROM {t} ORDER BY seq LIMIT :window) w"
        f" WHERE pg_try_advisory_xact_lock({RELAY_LOCK_CLASS}, hashtext(w.aggregateid))"
        " LIMIT :batch"
        f") SELECT o.id, o.aggregateid, o.payload, o.traceparent, o.tracestate FROM {t} o"
        " WHERE o.id IN (SELECT id FROM claimed)"
        " ORDER BY o.seq FOR UPDATE SKIP LOCKED"
    )


def dead_letter_sql(table: str) -> str:
    t = checked_table(table)
    return (
        f"WITH moved AS (DELETE FROM {t} WHERE id = :id RETURNING *) "
        f"INSERT INTO {dead_table(t)} (id, aggregatetype, aggregateid, type, payload, seq, created_at, reason) "
        "SELECT id, aggregatetype, aggregateid, type, payload, seq, created_at, :reason FROM moved "
        "ON CONFLICT (id) DO NOTHING"
    )


class OutboxRelay:
    """One relay; ``tick()`` is one pass plus, every ``count_interval_s``, a count for the gauges.

    Built in-process from an engine on the EMR's database, a producer (``streams.clients.build_producer``)
    and the activity topic's serde; ``rebuild_producer`` (optional) replaces a producer that failed fatally."""

    def __init__(
        self,
        engine: Engine,
        producer: Any,
        serde: AvroSerde,
        topic: str,
        *,
        table: str = DEFAULT_TABLE,
        batch_size: int = 500,
        delivery_timeout_s: float = 15.0,
        count_interval_s: float = 5.0,
        rebuild_producer: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine, self._producer, self._serde, self._topic = engine, producer, serde, topic
        self._table = checked_table(table)
        self._claim, self._dead = text(claim_sql(table)), text(dead_letter_sql(table))
        self._delete = text(f"DELETE FROM {self._table} WHERE id = ANY(:ids)")
        self._batch, self._delivery_timeout_s = batch_size, delivery_timeout_s
        self._count_interval_s, self._clock = count_interval_s, clock
        self._rebuild = rebuild_producer
        self._counted_at: float | None = None

    @property
    def producer(self) -> Any:
        """The producer in use (a new one after a fatal error)."""
        return self._producer

    @property
    def topic(self) -> str:
        return self._topic

    def tick(self) -> bool:
        """One pass; True when it claimed a full batch (more is probably waiting: run again at once)."""
        try:
            report = self.relay_once()
        except Exception:
            FAILURES.inc()
            raise
        self.count_if_due()
        return report.claimed >= self._batch

    def relay_once(self) -> PassReport:
        """Claims, produces, dead-letters and deletes in one transaction; raises (rolling back) on a
        transient failure, leaving every claimed row where it was."""
        with self._engine.begin() as conn:
            rows = [
                _Row(r.id, r.aggregateid, r.payload, trace_headers(r.traceparent, r.tracestate))
                for r in conn.execute(self._claim, self._limits())
            ]
            if not rows:
                return PassReport(0, 0, 0)
            dead = self._produce(rows)
            if dead:
                conn.execute(self._dead, [{"id": row.id, "reason": reason} for row, reason in dead])
            delivered = [row.id for row in rows if row.acked]
            if delivered:
                conn.execute(self._delete, {"ids": delivered})
        PUBLISHED.inc(len(delivered))
        for _, reason in dead:
            DEAD_LETTERED.labels("undecodable" if reason.startswith("undecodable") else "refused").inc()
        if dead:  # the id only: the payload and the key can identify a patient
            log.warning("outbox: %d rows dead-lettered to %s", len(dead), dead_table(self._table))
        return PassReport(len(rows), len(delivered), len(dead))

    def _limits(self) -> dict[str, int]:
        return {"window": self._batch * WINDOW_FACTOR, "batch": self._batch}

    def _produce(self, rows: list[_Row]) -> list[tuple[_Row, str]]:
        """Produces every decodable row and waits for all their acknowledgements; returns the rows to
        dead-letter with their reasons. Raises ProduceFailed (or ClientFatal) when any row failed otherwise."""
        dead: list[tuple[_Row, str]] = []
        for row in rows:
            problem = payload_problem(row.payload, self._serde)
            if problem is not None:
                dead.append((row, f"undecodable: {problem}"))
                continue
            try:
                self._send(row)
            except KafkaException as exc:
                error = exc.args[0]
                if not refused_for_good(error):
                    self._check_fatal(error)
                    raise ProduceFailed(f"produce refused: {error.str()}") from exc
                dead.append((row, f"refused: {error.name()}: {error.str()}"[:300]))
        pending = self._producer.flush(self._delivery_timeout_s)
        if pending:
            raise ProduceFailed(f"{pending} outbox records not acknowledged within {self._delivery_timeout_s:.0f}s")
        for row in rows:
            if row.error is None:
                continue
            if not refused_for_good(row.error):
                self._check_fatal(row.error)
                raise ProduceFailed(f"delivery failed: {row.error.str()}")
            dead.append((row, f"refused: {row.error.name()}: {row.error.str()}"[:300]))
        return dead

    def _send(self, row: _Row) -> None:
        def delivered(err: KafkaError | None, _msg: Any) -> None:
            row.error, row.acked = err, err is None

        payload, key = bytes(row.payload or b""), row.aggregateid.encode()
        extra = {"headers": row.headers} if row.headers else {}
        try:
            self._producer.produce(self._topic, payload, key, on_delivery=delivered, **extra)
        except BufferError:  # the local queue is full: let deliveries drain, then once more
            self._producer.flush(self._delivery_timeout_s)
            self._producer.produce(self._topic, payload, key, on_delivery=delivered, **extra)

    def _check_fatal(self, error: KafkaError) -> None:
        if not error.fatal():
            return
        if self._rebuild is None:
            raise ClientFatal(f"producer failed fatally: {error.str()}", recoverable=False)
        log.error("outbox: the producer failed fatally (%s); building a new one", error.str())
        self._producer = self._rebuild()

    def count_if_due(self) -> None:
        now = self._clock()
        if self._counted_at is not None and now - self._counted_at < self._count_interval_s:
            return
        self._counted_at = now
        rows, oldest_age_s = self.count()
        on_counted(rows, oldest_age_s)

    def count(self) -> tuple[int, float]:
        """Rows waiting and the age in seconds of the oldest (0 when empty)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                text(
                    f"SELECT count(*), COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - "
                    f"(SELECT created_at FROM {self._table} ORDER BY seq LIMIT 1)), 0) FROM {self._table}"
                )
            ).one()
        return int(row[0]), max(float(row[1]), 0.0)


def broker_answers(relay: OutboxRelay, timeout_s: float = 2.0) -> Probe:
    """Ready only while the broker answers a metadata request: with nothing to send, a relay's passes
    never touch the broker, and an idle relay that could not send the next commit must not look ready."""

    def probe() -> Check:
        relay.producer.list_topics(relay.topic, timeout=timeout_s)  # raises KafkaException when it does not answer
        return Check(True)

    return probe
