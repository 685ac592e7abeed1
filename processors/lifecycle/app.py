"""One tick of the lifecycle processor: under the upkeep lock, create the months ahead, apply retention
when it is on, then measure what the SRE pages on (months ready, rows in the default partitions,
partitions overdue).

The commands ``herald partitions maintain`` and ``herald retention run`` do the same work once; this
runs it on a timer, beside the pipeline, so nothing outside Herald has to schedule it, and its metrics
say when it stopped working. A second replica finds the lock held, skips the upkeep and only measures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, text

from processors.lifecycle import metrics
from processors.lifecycle.settings import LifecycleSettings
from sinks.postgres.partitions import PARTITIONED, existing_partitions, maintain, months_ready, upkeep_lock
from sinks.postgres.retention import RetentionRun, run_retention
from sinks.postgres.retention_plan import fates

log = logging.getLogger("herald.lifecycle")
DEFAULT_ROWS_CAP = 100_000


def table_of(partition: str) -> str:
    """The partitioned table a partition's name belongs to (``<table>_p202609``, ``<table>_legacy``)."""
    return max((t for t in PARTITIONED if partition.startswith(f"{t}_")), key=len, default="unknown")


class Lifecycle:
    def __init__(
        self,
        engine: Engine,
        settings: LifecycleSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        for table in PARTITIONED:  # every series reads 0 from the start, not from its first event
            metrics.CREATED.labels(table)
            metrics.DROPPED.labels(table)
            for action in ("deleted", "kept"):
                metrics.ROWS.labels(table, action)

    def tick(self) -> bool:
        """One upkeep, then the gauges (measured by every replica, the one that skipped included); never more
        work waiting (the next is a timer away)."""
        now = self.clock()
        with upkeep_lock(self.engine, wait=False) as held:
            if held:
                self._upkeep(now)
            else:
                log.info("another upkeep holds the lock; skipping this tick's upkeep")
        self.observe(now)
        return False

    def _upkeep(self, now: datetime) -> None:
        made = maintain(self.engine, now=now, ahead=self.settings.partitions_ahead_months)
        for name in made.created:
            metrics.CREATED.labels(table_of(name)).inc()
        if made.created:
            log.info("partitions created: %s", ", ".join(made.created))
        if self.settings.lifecycle_retention:
            self._record(self._retention(now))

    def _retention(self, now: datetime) -> RetentionRun:
        archive = Path(self.settings.archive_dir) if self.settings.archive_dir else None
        return run_retention(
            self.engine,
            now=now,
            keep_days=self.settings.keep_days(),
            archive_dir=archive,
            organizations=self.settings.organization_days(),
        )

    def _record(self, done: RetentionRun) -> None:
        for name in done.dropped:
            metrics.DROPPED.labels(table_of(name)).inc()
        for name, rows in done.purged.items():
            metrics.ROWS.labels(table_of(name), "deleted").inc(rows)
        for name, rows in done.kept.items():
            metrics.ROWS.labels(table_of(name), "kept").inc(rows)
        if done.dropped or done.purged:
            log.info(
                "retention: dropped %s; rows deleted %s; rows kept %s; archives %d",
                ", ".join(done.dropped) or "none",
                done.purged or "none",
                done.kept or "none",
                len(done.archived),
            )

    def observe(self, now: datetime) -> None:
        """Sets the gauges from the catalogue as it is now."""
        overrides = self.settings.organization_days()
        with self.engine.begin() as conn:
            for table in PARTITIONED:
                existing = existing_partitions(conn, table)
                metrics.READY.labels(table).set(months_ready(existing, now=now))
                default = f"{table}_default"
                rows = 0
                if conn.execute(text("SELECT to_regclass(:d) IS NOT NULL"), {"d": default}).scalar():
                    rows = conn.execute(
                        text(f"SELECT count(*) FROM (SELECT 1 FROM {default} LIMIT {DEFAULT_ROWS_CAP}) d")
                    ).scalar_one()
                metrics.DEFAULT_ROWS.labels(table).set(rows)
                if self.settings.lifecycle_retention:
                    due = fates(
                        existing,
                        now=now,
                        keep_days=self.settings.keep_days()[table],
                        organizations=overrides.get(table, {}),
                    )
                    # a month that keeps some organizations' rows is done once it holds only theirs, which
                    # the catalogue does not say: only months due to go whole count
                    metrics.OVERDUE.labels(table).set(sum(1 for f in due if f.drop and not f.keep))
