"""``herald run reconciler``: the safety net (``process_pending_notifications``).

notify=true events that no fan-out has marked within the grace period are fanned out again with
the fan-out's own plan. Idempotent all the way down: bell and held rows have natural keys, and the
push requests carry the same notification ids, which the push sender de-duplicates per
(notification, token); so a reconciler pass can never double-notify. Replicas split the work with
``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import Engine

from processors.notifications.plan import plan_batch
from processors.notifications_io.loader import DirectoryLoader
from processors.notifications_io.metrics import on_fanout_planned
from processors.notifications_io.pushes import push_outputs
from processors.notifications_io.writes import writes_of
from sinks.postgres.activity import lock_unsent, lock_unsent_ids, mark_fanned_out
from sinks.postgres.engine import raw_connection
from sinks.postgres.notifications import write_rows
from streams.checkpoint import deliver
from streams.deadletter import H_ERROR_TYPE, H_FIRST_FAILED, H_OFFSET, H_PARTITION, H_REASON, H_TOPIC, REASON_MAX
from streams.errors import reason_line
from streams.failures import Failure, classify
from streams.messages import ActivityEvent, parse_priority
from streams.metrics import DEAD_LETTERED
from streams.narrowing import narrow
from streams.records import Output
from streams.serde import AvroSerde

log = logging.getLogger("herald.reconciler")


def row_to_event(row: dict) -> ActivityEvent:
    """An activity_events row back as the event it was (priority and visibility are the stored effective ones)."""
    return ActivityEvent(
        event_id=row["event_id"],
        event_type=row["event_type"],
        occurred_at=row["occurred_at"],
        organization_id=row["organization_id"],
        title=row["title"],
        priority=parse_priority(row["priority"]),
        actor_user_id=row["actor_user_id"],
        patient_id=row["patient_id"],
        encounter_id=row["encounter_id"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        practitioner_user_id=row["practitioner_user_id"],
        description=row["description"],
        notify=row["notify"],
        visibility=row["visibility"],
        attributes=row["attributes"] or {},
        source=row["source"],
    )


def event_dead_letter(serde: AvroSerde, source_topic: str, dlq_topic: str) -> Callable[[ActivityEvent, str], Output]:
    """Builds the dead-letter record of an event the reconciler sets aside: the event as it is stored, with
    the reason and its source topic (no partition or offset: it comes from the database), so
    ``herald dlq list`` shows it and ``herald dlq replay`` can put it back on the activity topic."""

    def build(event: ActivityEvent, reason: str) -> Output:
        headers = [
            (H_ERROR_TYPE, b"DataError"),
            (H_REASON, reason[:REASON_MAX].encode()),
            (H_TOPIC, source_topic.encode()),
            (H_PARTITION, b"-1"),
            (H_OFFSET, b"-1"),
            (H_FIRST_FAILED, datetime.now(timezone.utc).isoformat().encode()),
        ]
        return Output(dlq_topic, event.key, serde.encode(event.to_avro()), headers)

    return build


class Reconciler:
    name = "reconciler"

    def __init__(
        self,
        engine: Engine,
        loader: DirectoryLoader,
        producer,
        serde: AvroSerde,
        push_topic: str,
        *,
        grace_s: float,
        batch: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        dead_letter: Callable[[ActivityEvent, str], Output] | None = None,
    ) -> None:
        self.engine, self._loader, self._producer = engine, loader, producer
        self._serde, self._topic, self._grace = serde, push_topic, timedelta(seconds=grace_s)
        self._batch, self._clock = batch, clock
        self._dead_letter = dead_letter  # an event set aside, with the reason, as a dead-letter record

    def tick(self) -> int:
        """One pass; returns how many events it fanned out. Raises (marking nothing) if the broker fails.
        A data error narrows the pass down to the events that cause it (``_narrowed``)."""
        now = self._clock()
        try:
            with self.engine.begin() as conn:
                rows = lock_unsent(conn, received_before=now - self._grace, limit=self._batch)
                self._fan_out(conn, [row_to_event(r) for r in rows], now)
            return len(rows)
        except Exception as exc:
            if classify(exc) is not Failure.DATA:
                raise
            log.warning("reconciler pass failed with a data error (%s); narrowing it down", reason_line(exc))
        return self._narrowed(now)

    def _fan_out(self, conn, events: list[ActivityEvent], now: datetime) -> None:
        """Plans, produces (acknowledged) and writes ``events`` in ``conn``'s transaction, which holds their locks."""
        if not events:
            return
        overrides = self._loader.overrides(events)
        directory, preferences = self._loader.load(events, overrides)
        plan = plan_batch(events, directory, preferences, now, overrides)
        self._produce(plan.pushes)
        with raw_connection(conn).cursor() as cur:
            write_rows(cur, writes_of(plan))
        on_fanout_planned(self.name, plan)

    def _narrowed(self, now: datetime) -> int:
        """Fans the pending events out in halves of halves (streams/narrowing.py), each part its own
        transaction; an event that fails alone with a data error is set aside: marked as fanned out, so
        no pass retries it forever, and dead-lettered with the database's message."""
        with self.engine.begin() as conn:
            pending = [r["event_id"] for r in lock_unsent(conn, received_before=now - self._grace, limit=self._batch)]

        def write(part) -> None:
            with self.engine.begin() as conn:
                self._fan_out(conn, [row_to_event(r) for r in lock_unsent_ids(conn, list(part))], now)

        refused = narrow(pending, write, lambda exc: classify(exc) is Failure.DATA)
        for event_id, exc in refused:
            self._set_aside(event_id, exc, now)
        return len(pending)

    def _set_aside(self, event_id, exc: Exception, now: datetime) -> None:
        with self.engine.begin() as conn:
            rows = lock_unsent_ids(conn, [event_id])
            if self._dead_letter is not None and rows:
                deliver(self._producer, [self._dead_letter(row_to_event(rows[0]), reason_line(exc))])
            mark_fanned_out(conn, [event_id], now)
        DEAD_LETTERED.labels(self.name, "activity", "DataError").inc()
        log.error(
            "event set aside: its fan-out fails with a data error (%s)",
            reason_line(exc),
            extra={"event_id": str(event_id)},
        )

    def _produce(self, pushes) -> None:
        deliver(self._producer, push_outputs(pushes, self._serde, self._topic))

    def tick_and_log(self) -> bool:
        """One pass for ``run_periodic``; a full batch asks to run again at once."""
        count = self.tick()
        if count:
            log.info("reconciled %d events that had not been fanned out", count)
        return count >= self._batch
