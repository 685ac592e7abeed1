"""Retention of the time-partitioned tables: whole partitions past their table's retention are detached,
archived when an archive directory is given, and dropped; never a row-by-row DELETE on a hot table.

A partition is expired when every row it can hold is older than ``now - keep_days`` (``partitions.plan``):
rows live at least their retention and at most a month longer. The steps are ordered so that a crash
anywhere loses nothing and the next run finishes the work: detach (a short lock, retried), export and
flush the archive and its manifest, then drop. A detached partition left by a crash is found by its name
(``<table>_pYYYYMM`` or ``<table>_legacy``, no longer attached) and archived and dropped by the next run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, text

from sinks.postgres.archive import export_table
from sinks.postgres.partitions import PARTITIONED, Partition, add_months, existing_partitions, plan, retry


@dataclass
class RetentionRun:
    dropped: list[str] = field(default_factory=list)
    archived: list[Path] = field(default_factory=list)  # manifests written


def run_retention(
    engine: Engine, *, now: datetime, keep_days: dict[str, int | None], archive_dir: Path | None
) -> RetentionRun:
    """Detaches, archives (when ``archive_dir``) and drops every expired partition of every partitioned table."""
    done = RetentionRun()
    for table, key in PARTITIONED.items():
        with engine.begin() as conn:
            expired = plan(
                table, existing_partitions(conn, table), now=now, ahead=0, keep_days=keep_days.get(table)
            ).drop
        for partition in expired:
            retry(engine, f"ALTER TABLE {table} DETACH PARTITION {partition.name}")
        for partition in [*expired, *_left_detached(engine, table, exclude={p.name for p in expired})]:
            if archive_dir is not None:
                done.archived.append(
                    export_table(
                        engine,
                        partition.name,
                        archive_dir,
                        table=table,
                        key=key,
                        lower=partition.lower,
                        upper=partition.upper,
                    )
                )
            with engine.begin() as conn:
                conn.execute(text(f"DROP TABLE {partition.name}"))
            done.dropped.append(partition.name)
    return done


def _left_detached(engine: Engine, table: str, *, exclude: set[str]) -> list[Partition]:
    """Partitions of ``table`` a crashed run detached and did not drop: named like one, attached to nothing."""
    with engine.begin() as conn:
        names = conn.execute(
            text(
                "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace "
                "AND c.relname ~ :pattern AND NOT c.relispartition"
            ),
            {"pattern": f"^{re.escape(table)}_(p[0-9]{{6}}|legacy)$"},
        ).scalars()
        found = []
        for name in sorted(set(names) - exclude):
            month = re.search(r"_p(\d{4})(\d{2})$", name)
            if month:
                lower = datetime(int(month[1]), int(month[2]), 1, tzinfo=timezone.utc)
                found.append(Partition(table, name, lower, add_months(lower, 1)))
            else:
                found.append(Partition(table, name, None, None))
        return found
