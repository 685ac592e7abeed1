"""``herald run escalator``: fires each urgent alert's next step when its wait runs out unacknowledged.

One Postgres transaction per tick: claim the due timers by locking their alerts (FOR UPDATE SKIP LOCKED,
so replicas split them and never fire one twice, and an acknowledgement in progress is passed by), plan
each step with the same pure rules as the fan-out's step 0 (``processors.notifications.alerts``), write
the bell rows, the step's record and the next timer, produce the URGENT pushes and wait for the
broker's acknowledgement, then commit. A crash before the commit redoes the step: the bell rows and
history have natural keys, and the pushes carry the same notification ids, which the push sender
de-duplicates per (notification, device). The fan-out's exactly-once between Postgres and Kafka,
with the database as the source of the timer instead of a consumed offset.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import Connection, Engine, text

from processors.escalator.metrics import on_alerts_counted, on_timer_fired
from processors.notifications.alerts import StepPlan, plan_step
from processors.notifications.directory import Directory
from processors.notifications.preferences import Preferences
from processors.notifications.recipients import needed_for_targets
from processors.notifications_io.loader import assemble
from processors.notifications_io.pushes import push_outputs
from sinks.postgres.alerts import (
    DueStep,
    claim_due,
    load_former_members,
    notified_users,
    record_exhausted,
    record_fired,
)
from sinks.postgres.directory import load_care_teams, load_users
from sinks.postgres.engine import raw_connection
from sinks.postgres.notifications import FanoutWrites, write_rows
from streams.checkpoint import deliver
from streams.serde import AvroSerde

log = logging.getLogger("herald.escalator")

COUNT_EVERY_S = 5.0  # the open/overdue gauges: a grouped count, not worth running at every tick
OVERDUE_WINDOW = timedelta(hours=24)  # older unacknowledged alerts were handled outside Herald, or never will be


@dataclass(frozen=True)
class TickReport:
    fired: int  # steps fired
    exhausted: int
    notified: int
    pushed: int


class Escalator:
    def __init__(
        self,
        engine: Engine,
        producer,
        serde: AvroSerde,
        push_topic: str,
        *,
        batch: int,
        overdue_s: int,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.engine, self._producer, self._serde, self._topic = engine, producer, serde, push_topic
        self._batch, self._overdue = batch, timedelta(seconds=overdue_s)
        self._clock = clock
        self._counted_at = float("-inf")

    def tick(self) -> TickReport:
        """One pass over due timers; raises (and fires nothing) when the broker does not acknowledge."""
        now = self._clock()
        with self.engine.begin() as conn:
            due = claim_due(conn, now, self._batch)
            plans = self._fire(conn, due, now) if due else []
        report = TickReport(
            len(plans), len(due) - len(plans), sum(len(p.bell) for _, p in plans), sum(len(p.pushes) for _, p in plans)
        )
        # Committed: count what happened. The delay is measured now, when the pushes are on the broker, not
        # at the tick's start (``fired_at``), which reads up to a tick's work early.
        done, skipped = self._clock(), {id(d): p.skipped for d, p in plans}
        for d in due:
            skips = (s.reason.value for s in skipped.get(id(d), []))
            on_timer_fired(d.event.event_type, d.step, (done - d.due_at).total_seconds(), skips, exhausted=d.exhausts)
        return report

    def _fire(self, conn: Connection, due: list[DueStep], now: datetime) -> list[tuple[DueStep, StepPlan]]:
        steps = [d for d in due if not d.exhausts]
        plans: list[tuple[DueStep, StepPlan]] = []
        if steps:
            directory, preferences = self._load(conn, steps)
            before = notified_users(conn, [d.event.event_id for d in steps])
            plans = [(d, self._plan(d, directory, preferences, before, now)) for d in steps]
        with raw_connection(conn).cursor() as cur:
            write_rows(cur, FanoutWrites(bell=[b for _, p in plans for b in p.bell]))
            record_fired(cur, plans)
            record_exhausted(cur, [d for d in due if d.exhausts], now)
        pushes = [push for _, p in plans for push in p.pushes]
        if pushes:
            deliver(self._producer, push_outputs(pushes, self._serde, self._topic))
        return plans

    @staticmethod
    def _plan(d: DueStep, directory: Directory, preferences, before, now: datetime) -> StepPlan:
        return plan_step(
            d.event,
            d.policy,
            d.step,
            directory,
            preferences,
            notified_before=before.get(d.event.event_id, frozenset()),
            raised_at=d.raised_at,
            now=now,
        )

    @staticmethod
    def _load(conn: Connection, steps: Sequence[DueStep]) -> tuple[Directory, dict[str, Preferences]]:
        """What the steps' targets name: practitioners and named users, the patients' care teams (with
        members who left since the oldest alert was raised), and whole organizations for organization targets."""
        users, patients, organizations = needed_for_targets((d.event, d.policy.steps[d.step].targets) for d in steps)
        team = load_care_teams(conn, patients) if patients else []
        former = load_former_members(conn, patients, min(d.raised_at for d in steps)) if patients else []
        users |= {u for _, u in team} | {u for _, u, _ in former}
        loaded = load_users(conn, user_ids=users, organizations=organizations) if users or organizations else []
        directory, preferences = assemble(loaded, team)
        return dataclasses.replace(directory, former_members=Directory.of(former=former).former_members), preferences

    def count(self) -> None:
        """Sets the open and overdue gauges (at most every COUNT_EVERY_S)."""
        if time.monotonic() - self._counted_at < COUNT_EVERY_S:
            return
        now = self._clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_type, count(*) FILTER (WHERE state = 'open'), "
                    "count(*) FILTER (WHERE raised_at <= :overdue) FROM alerts "
                    "WHERE (state = 'open' OR (state = 'exhausted' AND raised_at > :window)) GROUP BY event_type"
                ),
                {"overdue": now - self._overdue, "window": now - OVERDUE_WINDOW},
            ).all()
        on_alerts_counted({r[0]: r[1] for r in rows if r[1]}, {r[0]: r[2] for r in rows if r[2]})
        self._counted_at = time.monotonic()

    def tick_and_log(self) -> bool:
        """One tick for ``run_periodic``; asks to run again at once when the batch was full."""
        report = self.tick()
        if report.fired or report.exhausted:
            log.info(
                "fired %d escalation steps (%d notified, %d pushed), %d alerts exhausted",
                report.fired,
                report.notified,
                report.pushed,
                report.exhausted,
            )
        self.count()
        return report.fired + report.exhausted >= self._batch
