"""Retention of the time-partitioned tables: whole partitions past their table's retention are detached,
archived when an archive directory is given, and dropped; never a row-by-row DELETE on a hot table.

A partition is expired when every row it can hold is older than ``now - keep_days`` (``partitions.plan``):
rows live at least their retention and at most a month longer. The steps are ordered so that a crash
anywhere loses nothing and the next run finishes the work: detach (a short lock, retried), export and
flush the archive and its manifest, then drop. A detached partition left by a crash is found by its name
(``<table>_pYYYYMM`` or ``<table>_legacy``, no longer attached) and archived and dropped by the next run.

Organizations with a retention of their own (``retention_plan``): when a month is dropped, the rows of
those that keep it longer are copied into a new table, which replaces the month in one short transaction
(rows the month received meanwhile in the default partition move with them); while the table keeps a
month, the rows of those that keep it shorter are deleted from it in one statement each, archived from
the same transaction. That month is no longer written, and the delete touches only those organizations'
rows (docs/decisions/0255-per-organization-retention.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, text

from sinks.postgres.archive import columns_of, export_rows, export_table
from sinks.postgres.partitions import (
    PARTITIONED,
    Partition,
    add_months,
    bounds_sql,
    existing_partitions,
    from_default,
    in_range_sql,
    retry,
)
from sinks.postgres.retention_plan import Fate, fate, fates


@dataclass
class RetentionRun:
    dropped: list[str] = field(default_factory=list)
    archived: list[Path] = field(default_factory=list)  # manifests written
    kept: dict[str, int] = field(default_factory=dict)  # month re-attached -> rows of longer-keeping organizations
    purged: dict[str, int] = field(default_factory=dict)  # partition -> rows of shorter-keeping organizations deleted


def run_retention(
    engine: Engine,
    *,
    now: datetime,
    keep_days: dict[str, int | None],
    archive_dir: Path | None,
    organizations: dict[str, dict[str, int]] | None = None,
) -> RetentionRun:
    """Applies every partition's ``fate`` on every partitioned table: detaches, archives (when
    ``archive_dir``) and drops the expired ones, re-attaching the rows of organizations that keep them
    longer, and deletes the rows of organizations that keep a month shorter than its table.
    ``organizations``: per table, the organizations whose retention differs from ``keep_days``'."""
    done = RetentionRun()
    for table, key in PARTITIONED.items():
        overrides = (organizations or {}).get(table, {})
        with engine.begin() as conn:
            todo = fates(
                existing_partitions(conn, table), now=now, keep_days=keep_days.get(table), organizations=overrides
            )
        detached: list[Fate] = []
        for f in todo:
            if not f.drop:
                _purge(engine, f.partition, f.purge, key=key, archive_dir=archive_dir, done=done)
            elif not f.keep or _holds_others(engine, f.partition, f.keep):
                retry(engine, f"ALTER TABLE {table} DETACH PARTITION {f.partition.name}")
                detached.append(f)
            # else: the month holds only rows kept longer, re-attached by an earlier run
        for left in _left_detached(engine, table, exclude={f.partition.name for f in detached}):
            detached.append(
                fate(left, now=now, keep_days=keep_days.get(table), organizations=overrides)
                or Fate(left, drop=False)  # no longer expired (retention lengthened): attached back whole
            )
        for f in detached:
            _finish(engine, f, key=key, archive_dir=archive_dir, done=done)
    return done


def _finish(engine: Engine, f: Fate, *, key: str, archive_dir: Path | None, done: RetentionRun) -> None:
    """Archives a detached partition, then drops it, re-attaching the rows ``f`` keeps."""
    partition = f.partition
    if not f.drop:
        _attach(engine, partition, source=partition.name, key=key)
        return
    if archive_dir is not None:
        done.archived.append(
            export_table(
                engine,
                partition.name,
                archive_dir,
                table=partition.table,
                key=key,
                lower=partition.lower,
                upper=partition.upper,
            )
        )
    if f.keep:
        done.kept[partition.name] = _keep(engine, partition, f.keep, key=key)
    else:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {partition.name}"))
    done.dropped.append(partition.name)


def _holds_others(engine: Engine, partition: Partition, keep: frozenset[str]) -> bool:
    """``partition`` has a row of an organization not in ``keep``."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                text(f"SELECT EXISTS (SELECT 1 FROM {partition.name} WHERE organization_id <> ALL(:keep))"),
                {"keep": sorted(keep)},
            ).scalar()
        )


def _keep(engine: Engine, partition: Partition, keep: frozenset[str], *, key: str) -> int:
    """Copies the rows of the ``keep`` organizations out of the detached ``partition`` into a new table and
    attaches that as the month in its place (the detached one is dropped in the same transaction).
    Returns the rows kept. The copy carries the month's bounds as a CHECK, so attaching it scans nothing."""
    kept = f"{partition.name}_kept"
    with engine.begin() as conn:
        columns = ", ".join(f'"{name}"' for name, _ in columns_of(conn, partition.table))
        conn.execute(text(f"DROP TABLE IF EXISTS {kept}"))  # a crashed run's copy
        conn.execute(text(f"CREATE TABLE {kept} (LIKE {partition.table} INCLUDING DEFAULTS INCLUDING INDEXES)"))
        conn.execute(text(f"ALTER TABLE {kept} ADD CONSTRAINT {kept}_bounds CHECK ({in_range_sql(partition, key)})"))
        conn.execute(
            text(
                f"INSERT INTO {kept} ({columns}) SELECT {columns} FROM {partition.name} WHERE organization_id = ANY(:keep)"
            ),
            {"keep": sorted(keep)},
        )
    _attach(engine, partition, source=kept, key=key)
    with engine.begin() as conn:  # with the rows that waited in the default partition
        return int(conn.execute(text(f"SELECT count(*) FROM {partition.name}")).scalar_one())


def _attach(engine: Engine, partition: Partition, *, source: str, key: str) -> None:
    """Attaches ``source`` as ``partition`` (replacing the detached table of that name when ``source`` is
    another). Rows of the month that reached the default partition while it was detached move into it
    first, as when a month is created."""
    table = partition.table
    statements = []
    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regclass(:d) IS NOT NULL"), {"d": f"{table}_default"}).scalar():
            statements += from_default(partition, into=source, key=key)
    if source != partition.name:
        statements += [f"DROP TABLE {partition.name}", f"ALTER TABLE {source} RENAME TO {partition.name}"]
    statements.append(f"ALTER TABLE {table} ATTACH PARTITION {partition.name} FOR VALUES {bounds_sql(partition)}")
    if source != partition.name:
        statements.append(f"ALTER TABLE {partition.name} DROP CONSTRAINT {source}_bounds")
    retry(engine, *statements)


def _purge(
    engine: Engine,
    partition: Partition,
    organizations: frozenset[str],
    *,
    key: str,
    archive_dir: Path | None,
    done: RetentionRun,
) -> None:
    """Deletes the rows of ``organizations`` from ``partition``, archiving them from the same transaction:
    deleted into a temporary table, exported, flushed, then committed, so a crash before the commit
    deletes nothing (and at worst leaves an archive of rows the next run archives again)."""
    orgs = {"orgs": sorted(organizations)}
    with engine.begin() as conn:
        if archive_dir is None:
            rows = conn.execute(text(f"DELETE FROM {partition.name} WHERE organization_id = ANY(:orgs)"), orgs).rowcount
        else:
            conn.execute(text(f"CREATE TEMPORARY TABLE herald_purged (LIKE {partition.name}) ON COMMIT DROP"))
            rows = conn.execute(
                text(
                    f"WITH gone AS (DELETE FROM {partition.name} WHERE organization_id = ANY(:orgs) RETURNING *) "
                    "INSERT INTO herald_purged SELECT * FROM gone"
                ),
                orgs,
            ).rowcount
            if rows:
                done.archived.append(
                    export_rows(
                        conn,
                        "herald_purged",
                        archive_dir,
                        partition=partition.name,
                        table=partition.table,
                        key=key,
                        lower=partition.lower,
                        upper=partition.upper,
                        organizations=orgs["orgs"],
                    )
                )
    if rows:
        done.purged[partition.name] = rows


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
