"""``herald run scheduler``: every tick, release due held notifications as one digest per user.

One Postgres transaction per tick: lock due users (advisory locks, so replicas never release
the same user), read their due rows, re-check each against the directory and preferences as
they are *now*, produce the digests and wait for the broker's acknowledgement, then close the
rows. A crash after the produce re-releases the same set with the same digest id, which the push
sender de-duplicates per (notification, token).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import Engine

from processors.notifications.digests import Held, Release, due, release
from processors.notifications_io.loader import DirectoryLoader
from processors.notifications_io.pushes import push_outputs
from processors.scheduler.metrics import DIGESTS, on_held_counted
from sinks.postgres.held import HeldRecord, close_rows, count_held, due_rows, lock_due_users
from streams.checkpoint import deliver
from streams.messages import Priority
from streams.serde import AvroSerde

log = logging.getLogger("herald.scheduler")


@dataclass(frozen=True)
class TickReport:
    users: int
    digests: int
    released: int
    dropped: int


def to_held(r: HeldRecord) -> Held:
    return Held(r.notification_id, r.user_id, r.event_type, Priority(r.priority), r.release_at, r.reason, r.patient_id)


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        loader: DirectoryLoader,
        producer,
        serde: AvroSerde,
        push_topic: str,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._engine, self._loader, self._producer = engine, loader, producer
        self._serde, self._topic, self._clock = serde, push_topic, clock

    def tick(self) -> TickReport:
        """One release pass; raises (and releases nothing) when the broker does not acknowledge."""
        now = self._clock()
        with self._engine.begin() as conn:
            rows = due_rows(conn, lock_due_users(conn, now), now)
            if not rows:
                self._count(conn, now)
                return TickReport(0, 0, 0, 0)
            plan = self._plan(rows, now)
            self._produce(plan.digests)
            close_rows(conn, plan.released, "digest", now)
            close_rows(conn, plan.dropped, "dropped", now)
            self._count(conn, now)
        DIGESTS.labels("released").inc(len(plan.digests))
        DIGESTS.labels("dropped").inc(len(plan.dropped))
        return TickReport(len({r.user_id for r in rows}), len(plan.digests), len(plan.released), len(plan.dropped))

    @staticmethod
    def _count(conn, now: datetime) -> None:
        held, overdue = count_held(conn, now)
        on_held_counted("scheduler", held=held, overdue=overdue)

    def _plan(self, rows: list[HeldRecord], now: datetime) -> Release:
        groups = due(now, [to_held(r) for r in rows])
        patients = {r.patient_id for r in rows if r.patient_id}
        directory, preferences = self._loader.load_for_users(groups, patients)
        return release(
            groups,
            directory,
            preferences,
            {r.notification_id: r.organization_id for r in rows},
            {r.notification_id: r.occurred_at for r in rows},
            now,
        )

    def _produce(self, pushes) -> None:
        deliver(self._producer, push_outputs(pushes, self._serde, self._topic))

    def tick_and_log(self) -> bool:
        """One tick for ``run_periodic``; never asks to run again at once (the next tick comes soon)."""
        report = self.tick()
        if report.digests or report.dropped:
            log.info("released %d digests (%d held rows, %d dropped)", report.digests, report.released, report.dropped)
        return False
