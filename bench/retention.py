"""Benchmark of retention on one month of the feed: what each operation costs and how long it locks.

    .venv/bin/python bench/retention.py [--rows 2000000] [--organizations 100] [--no-archive]

In a scratch database (migrated, dropped at exit), each scenario loads a month of ``activity_events``
with ``--rows`` rows spread over ``--organizations`` organizations (server-side INSERT … SELECT, then
ANALYZE) and runs ``herald retention run``'s code on it:

- drop: the month is past the table's retention, no organization differs: detach, archive, drop.
- keep one: the same, one organization keeps it longer: its rows are copied into a new table that
  replaces the month (the "swap" transaction holds the default partition's lock; reported apart).
- purge one: the table keeps the month, one organization keeps it shorter: its rows are deleted and
  archived in one transaction.
- delete the rest: for contrast, keeping one organization by deleting every other's rows instead.

Archives go to a temporary directory unless ``--no-archive``. Figures are seconds; ratios within one run
are what to compare (the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save, scratch_database  # noqa: E402
from sinks.postgres import retention  # noqa: E402

UTC = timezone.utc
NOW = datetime(2026, 12, 4, tzinfo=UTC)  # the table keeps 400 days: months before November 2025 are past it
INSERT = """
INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, actor_user_id,
                             patient_id, title, notify, visibility, source)
SELECT md5(:month || '-' || i)::uuid, 'APPOINTMENT_BOOKED', 'NORMAL',
       CAST(:lower AS timestamptz) + (i * interval '27 days') / :rows,
       'org-' || lpad((i % :orgs)::text, 3, '0'), 'u-' || (i % 500), 'p-' || (i % 20000),
       'Appointment booked', false, 'ALL_MEMBERS', 'bench'
FROM generate_series(0, :rows - 1) AS i
"""


def month(engine, lower: str, upper: str, rows: int, orgs: int) -> str:
    name = f"activity_events_p{lower[:4]}{lower[5:7]}"
    with engine.begin() as conn:
        conn.execute(
            text(f"CREATE TABLE {name} PARTITION OF activity_events FOR VALUES FROM ('{lower}') TO ('{upper}')")
        )
        conn.execute(text(INSERT), {"month": name, "lower": lower, "rows": rows, "orgs": orgs})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {name}"))
    return name


class Timed:
    """Wraps ``retention._attach`` to time the swap transaction apart from the whole run."""

    def __init__(self) -> None:
        self.attach = 0.0
        self._attach = retention._attach

    def __enter__(self) -> Timed:
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return self._attach(*args, **kwargs)
            finally:
                self.attach += time.perf_counter() - t0

        retention._attach = timed
        return self

    def __exit__(self, *exc) -> None:
        retention._attach = self._attach


def wal(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one())


def vacuum(engine, name: str) -> float:
    """Seconds VACUUM takes to clear what a delete left in ``name`` (the rest of a row delete's cost)."""
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM {name}"))
    return time.perf_counter() - t0


def run(engine, archive_dir: Path | None, organizations: dict[str, int]) -> tuple[float, float, retention.RetentionRun]:
    with Timed() as timed:
        t0 = time.perf_counter()
        done = retention.run_retention(
            engine,
            now=NOW,
            keep_days={"activity_events": 400},
            archive_dir=archive_dir,
            organizations={"activity_events": organizations},
        )
        return time.perf_counter() - t0, timed.attach, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in each month loaded")
    parser.add_argument("--organizations", type=int, default=100)
    parser.add_argument("--no-archive", action="store_true")
    args = parser.parse_args()
    retention.PARTITIONED = {"activity_events": "occurred_at"}
    engine = create_engine(scratch_database("bench_retention"))
    with engine.begin() as conn:  # a fresh database keeps everything before next month in one legacy partition
        conn.execute(text("ALTER TABLE activity_events DETACH PARTITION activity_events_legacy"))
        conn.execute(text("DROP TABLE activity_events_legacy"))
        conn.execute(text("ALTER TABLE activity_events DISABLE TRIGGER USER"))  # live-update log, not measured
    rows, orgs = args.rows, args.organizations
    one_org = rows // orgs
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        archive_dir = None if args.no_archive else Path(tmp)

        month(engine, "2025-01-01Z", "2025-02-01Z", rows, orgs)
        before = wal(engine)
        seconds, _, done = run(engine, archive_dir, {})
        figures["drop"] = {"seconds": seconds, "wal_mb": (wal(engine) - before) / 1e6}

        name = month(engine, "2025-02-01Z", "2025-03-01Z", rows, orgs)
        before = wal(engine)
        seconds, swap, done = run(engine, archive_dir, {"org-000": 4000})
        assert done.kept == {name: one_org}, done.kept
        figures["keep one"] = {
            "seconds": seconds,
            "wal_mb": (wal(engine) - before) / 1e6,
            "swap_seconds": swap,
            "rows_kept": one_org,
        }

        name = month(engine, "2026-10-01Z", "2026-11-01Z", rows, orgs)
        before = wal(engine)
        seconds, _, done = run(engine, archive_dir, {"org-001": 30})
        assert done.purged == {name: one_org}, done.purged
        figures["purge one"] = {
            "seconds": seconds,
            "wal_mb": (wal(engine) - before) / 1e6,
            "vacuum_seconds": vacuum(engine, name),
            "rows_deleted": one_org,
        }

        name = month(engine, "2025-03-01Z", "2025-04-01Z", rows, orgs)
        before, t0 = wal(engine), time.perf_counter()
        with engine.begin() as conn:
            deleted = conn.execute(text(f"DELETE FROM {name} WHERE organization_id <> 'org-000'")).rowcount
        figures["delete the rest"] = {
            "seconds": time.perf_counter() - t0,
            "wal_mb": (wal(engine) - before) / 1e6,
            "vacuum_seconds": vacuum(engine, name),
            "rows_deleted": deleted,
        }

    print(
        f"retention of one month of {rows:,} events over {orgs} organizations, archive {'off' if args.no_archive else 'on'}"
    )
    for scenario, figure in figures.items():
        extra = ", ".join(
            f"{k} {v:,.2f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in figure.items() if k != "seconds"
        )
        print(f"  {scenario:16} {figure['seconds']:7.2f} s  {extra}")
    print(
        f"results: {save('retention', {'rows': rows, 'organizations': orgs, 'archive': not args.no_archive, **figures})}"
    )


if __name__ == "__main__":
    main()
