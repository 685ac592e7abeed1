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

from processors.fanout.app import push_outputs, record_plan
from processors.fanout.loader import FanoutLoader
from processors.fanout.plan import plan_batch
from sinks.postgres.activity import lock_unsent
from sinks.postgres.engine import raw_connection
from sinks.postgres.notifications import write_rows
from streams.checkpoint import deliver
from streams.messages import ActivityEvent, parse_priority
from streams.serde import AvroSerde

log = logging.getLogger("herald.reconciler")


def row_to_event(row: dict) -> ActivityEvent:
    """An activity_events row back as the event it was (priority and visibility are the stored effective ones)."""
    return ActivityEvent(
        event_id=row["event_id"], event_type=row["event_type"], occurred_at=row["occurred_at"],
        organization_id=row["organization_id"], title=row["title"], priority=parse_priority(row["priority"]),
        actor_user_id=row["actor_user_id"], patient_id=row["patient_id"], encounter_id=row["encounter_id"],
        resource_type=row["resource_type"], resource_id=row["resource_id"],
        practitioner_user_id=row["practitioner_user_id"], description=row["description"], notify=row["notify"],
        visibility=row["visibility"], attributes=row["attributes"] or {}, source=row["source"])


class Reconciler:
    name = "reconciler"

    def __init__(self, engine: Engine, loader: FanoutLoader, producer, serde: AvroSerde, push_topic: str, *,
                 grace_s: float, batch: int = 1000,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.engine, self._loader, self._producer = engine, loader, producer
        self._serde, self._topic, self._grace = serde, push_topic, timedelta(seconds=grace_s)
        self._batch, self._clock = batch, clock

    def tick(self) -> int:
        """One pass; returns how many events it fanned out. Raises (marking nothing) if the broker fails."""
        now = self._clock()
        with self.engine.begin() as conn:
            events = [row_to_event(r) for r in lock_unsent(conn, received_before=now - self._grace, limit=self._batch)]
            if not events:
                return 0
            directory, preferences = self._loader.load(events)
            plan = plan_batch(events, directory, preferences, now)
            self._produce(plan.pushes)
            with raw_connection(conn).cursor() as cur:
                write_rows(cur, plan.writes)
        record_plan(self.name, plan)
        return len(events)

    def _produce(self, pushes) -> None:
        deliver(self._producer, push_outputs(pushes, self._serde, self._topic))

    def tick_and_log(self) -> bool:
        """One pass for ``run_periodic``; a full batch asks to run again at once."""
        count = self.tick()
        if count:
            log.info("reconciled %d events that had not been fanned out", count)
        return count >= self._batch
