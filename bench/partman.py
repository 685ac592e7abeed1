"""Benchmark of partition upkeep: `herald partitions maintain` / `retention run`'s code against pg_partman.

    sudo apt-get install postgresql-15-partman        # Debian's package; the extension needs a superuser
    .venv/bin/python bench/partman.py --superuser-url postgresql:///postgres?host=/var/run/postgresql&user=postgres

Two tables of the same shape (``id uuid, occurred_at timestamptz``, primary key on both), in a scratch
database, each given ``--months`` monthly partitions ending this month and ``--rows`` rows per month:
one kept by Herald's code (``sinks.postgres.partitions.maintain``, ``retention.run_retention``), one by
pg_partman 4 (``create_parent``, ``run_maintenance``). Measured per tool: the set-up, a run with nothing
to do (the daily case), and a run that creates the months ahead and drops the expired ones. Prints
milliseconds (median of ``--repeat`` runs for the no-op).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sinks.postgres import partitions, retention  # noqa: E402
from sinks.postgres.partitions import add_months, month_start  # noqa: E402

NOW = datetime.now(timezone.utc)


def ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def load(conn, table: str, months: int, rows: int) -> None:
    first = add_months(month_start(NOW), -(months - 1))
    conn.execute(
        text(
            f"INSERT INTO {table} SELECT gen_random_uuid(), "
            "CAST(:first AS timestamptz) + (i / CAST(:rows AS float8)) * interval '1 month' "
            "FROM generate_series(0, CAST(:rows AS bigint) * :months - 1) i"
        ),
        {"first": first, "months": months, "rows": rows},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--superuser-url", required=True, help="a superuser's URL (CREATE EXTENSION pg_partman)")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--rows", type=int, default=20_000, help="rows per month")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    name = f"bench_partman_{uuid.uuid4().hex[:6]}"
    admin = create_engine(args.superuser_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.superuser_url).set(database=name)
    engine = create_engine(url)
    try:
        figures = measure(engine, args)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    print(f"{args.months} monthly partitions of {args.rows:,} rows, 3 months ahead, 12 months' retention (ms)")
    for tool, row in figures.items():
        print(f"  {tool:8} " + ", ".join(f"{k} {v:,.1f}" for k, v in row.items()))


def measure(engine, args) -> dict[str, dict[str, float]]:
    keep_days = 366
    figures: dict[str, dict[str, float]] = {}
    with engine.begin() as conn:
        for table in ("herald_t", "partman_t"):
            conn.execute(
                text(
                    f"CREATE TABLE {table} (id uuid NOT NULL, occurred_at timestamptz NOT NULL, "
                    "PRIMARY KEY (id, occurred_at)) PARTITION BY RANGE (occurred_at)"
                )
            )
        conn.execute(text("CREATE SCHEMA partman"))
        conn.execute(text("CREATE EXTENSION pg_partman SCHEMA partman"))

    # Herald: the months that hold rows exist first (maintain creates from this month on)
    partitions.PARTITIONED = retention.PARTITIONED = {"herald_t": "occurred_at"}
    first = add_months(month_start(NOW), -(args.months - 1))
    with engine.begin() as conn:
        for n in range(args.months - 1):
            lower = add_months(first, n)
            conn.execute(
                text(
                    f"CREATE TABLE herald_t_p{lower:%Y%m} PARTITION OF herald_t FOR VALUES "
                    f"FROM ('{lower.isoformat()}') TO ('{add_months(lower, 1).isoformat()}')"
                )
            )
        conn.execute(text("CREATE TABLE herald_t_default PARTITION OF herald_t DEFAULT"))
    herald = {"setup": ms(lambda: partitions.maintain(engine, now=NOW, ahead=3))}
    with engine.begin() as conn:
        load(conn, "herald_t", args.months, args.rows)

    def herald_run() -> None:
        partitions.maintain(engine, now=NOW, ahead=3)
        retention.run_retention(engine, now=NOW, keep_days={"herald_t": keep_days}, archive_dir=None)

    herald["first run (drops)"] = ms(herald_run)
    herald["daily no-op"] = statistics.median(ms(herald_run) for _ in range(args.repeat))
    figures["herald"] = herald

    # pg_partman: create_parent makes the months around now; older ones for the loaded rows first
    def setup() -> None:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "SELECT partman.create_parent('public.partman_t', 'occurred_at', 'native', 'monthly', "
                    "p_premake := 3, p_start_partition := :start)"
                ),
                {"start": f"{first:%Y-%m-%d}"},
            )
            conn.execute(
                text(
                    "UPDATE partman.part_config SET retention = :keep, retention_keep_table = false, "
                    "infinite_time_partitions = true WHERE parent_table = 'public.partman_t'"
                ),
                {"keep": f"{keep_days} days"},
            )

    partman = {"setup": ms(setup)}
    with engine.begin() as conn:
        load(conn, "partman_t", args.months, args.rows)

    def partman_run() -> None:
        with engine.begin() as conn:
            conn.execute(text("SELECT partman.run_maintenance('public.partman_t')"))

    partman["first run (drops)"] = ms(partman_run)
    partman["daily no-op"] = statistics.median(ms(partman_run) for _ in range(args.repeat))
    figures["pg_partman"] = partman
    with engine.begin() as conn:
        for table in ("herald_t", "partman_t"):
            left = conn.execute(
                text("SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass(:t)"), {"t": table}
            ).scalar()
            figures["herald" if table == "herald_t" else "pg_partman"]["partitions left"] = float(left)
    return figures


if __name__ == "__main__":
    main()
