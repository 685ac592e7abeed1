"""A capacity plan for 10, 100 and 1,000 hospitals from figures measured on this machine (docs/capacity.md).

    .venv/bin/python bench/capacity.py [--rows 200000] [--kafka-bytes-per-event N] [--push-per-s N]
                                       [--beds 300] [--events-per-bed-day 150] [--json PATH]

Measured here, by this script: the bytes one row takes in Postgres, indexes included, for
``activity_events``, ``user_notifications`` and ``push_deliveries`` (``--rows`` events generated into a scratch
database migrated to the current schema with ``bench/api.py``'s generator, 400 bell entries for each of
its ~500 users and a delivery per bell entry, then ``VACUUM ANALYZE`` and ``pg_total_relation_size`` summed over every
partition). Taken from other benchmarks, with the command that measured each: the persister's and the
fan-out's events/s (``make bench``: ``bench/results/latest.json``, the median run), the push sender's
pushes/s (``make bench-push``), live streams per API process (``make bench-live``) and the activity
topic's bytes per event on the broker (``python bench/topic_bytes.py``, lz4).

Everything else is a stated assumption, printed with the plan and adjustable by flag. The model is
``plan()``: a pure function of the two, so the doc's tables can be re-derived for another hospital size.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).parent / "results" / "latest.json"
DAY_S = 86_400
GB = 1e9


@dataclass(frozen=True)
class Assumptions:
    beds: int = 300  # per hospital
    events_per_bed_day: float = 150  # orders, results, administrations, notes, appointments, registrations
    peak_factor: float = 3.0  # busiest hour's rate over the day's average
    notifying_share: float = 0.3  # events with notify=true
    recipients_per_notifying: float = 3.0  # bell entries per notifying event (care team, practitioner)
    devices_per_user: float = 1.5
    push_share: float = 0.6  # bell entries that pass preferences and quiet hours at once
    users_per_bed: float = 4.0  # staff accounts
    online_share: float = 0.25  # of users with the bell open at the peak (one live stream each)
    feed_days: int = 400  # retention policy defaults
    bell_days: int = 90
    deliveries_days: int = 30
    topic_days: int = 400  # the activity topic keeps the feed's window (rebuild from the log)
    replication: int = 3
    headroom: float = 2.0  # processes sized for twice the peak: a catch-up after an outage drains
    broker_disk_gb: float = 4_000  # usable log disk per broker
    pg_primary_hot_gb: float = 4_000  # hot data one primary keeps comfortably (vacuum, backups, restores)


@dataclass(frozen=True)
class Measured:
    persister_per_s: float
    fanout_per_s: float
    push_per_s: float
    live_streams_per_api: float
    kafka_bytes_per_event: float
    row_bytes: dict[str, float] = field(default_factory=dict)  # table -> bytes per row, indexes included


@dataclass(frozen=True)
class Size:
    hospitals: int
    events_per_day: float
    peak_events_per_s: float
    peak_bell_per_s: float
    peak_pushes_per_s: float
    persisters: int
    fanouts: int
    push_senders: int
    activity_partitions: int
    push_partitions: int
    kafka_tb: float
    brokers: int
    postgres_hot_tb: float
    postgres_peak_rows_per_s: float
    live_streams: int
    api_processes: int
    first_bottleneck: str


def processes(peak: float, per_process: float, headroom: float) -> int:
    """Enough for the peak with headroom, and never fewer than two: one may be down (a PDB allows it)."""
    return max(2, math.ceil(peak * headroom / per_process))


def partitions(workers: int, floor: int = 12) -> int:
    """Room to double the group without re-partitioning (a key's partition would change): twice the
    workers, in sixes, at least the topic's default (``herald topics create``: 12 activity, 6 push)."""
    return max(floor, 6 * math.ceil(2 * workers / 6))


def plan(hospitals: int, a: Assumptions, m: Measured) -> Size:
    events_day = hospitals * a.beds * a.events_per_bed_day
    bell_day = events_day * a.notifying_share * a.recipients_per_notifying
    deliveries_day = bell_day * a.push_share * a.devices_per_user
    peak = events_day / DAY_S * a.peak_factor
    peak_bell, peak_push = bell_day / DAY_S * a.peak_factor, deliveries_day / DAY_S * a.peak_factor
    persisters = processes(peak, m.persister_per_s, a.headroom)
    fanouts = processes(peak, m.fanout_per_s, a.headroom)
    senders = processes(peak_push, m.push_per_s, a.headroom)
    kafka_tb = events_day * a.topic_days * m.kafka_bytes_per_event * a.replication / 1e12
    brokers = max(a.replication, math.ceil(kafka_tb * 1e12 / GB / a.broker_disk_gb))
    hot_gb = (
        events_day * a.feed_days * m.row_bytes["activity_events"]
        + bell_day * a.bell_days * m.row_bytes["user_notifications"]
        + deliveries_day * a.deliveries_days * m.row_bytes["push_deliveries"]
    ) / GB
    live = math.ceil(hospitals * a.beds * a.users_per_bed * a.online_share)
    api = max(2, math.ceil(live / m.live_streams_per_api))
    # What does not scale by adding processes or brokers: the one Postgres primary. Its write ceiling is
    # taken as the persister's measured rate (rows/s one process wrote into it here).
    pressures = {
        "Postgres primary: hot data": hot_gb / a.pg_primary_hot_gb,
        "Postgres primary: writes": (peak + peak_bell + peak_push) / m.persister_per_s,
    }
    bottleneck = max(pressures, key=lambda k: pressures[k])
    return Size(
        hospitals=hospitals,
        events_per_day=events_day,
        peak_events_per_s=peak,
        peak_bell_per_s=peak_bell,
        peak_pushes_per_s=peak_push,
        persisters=persisters,
        fanouts=fanouts,
        push_senders=senders,
        activity_partitions=partitions(max(persisters, fanouts)),
        push_partitions=partitions(senders, floor=6),
        kafka_tb=kafka_tb,
        brokers=brokers,
        postgres_hot_tb=hot_gb / 1000,
        postgres_peak_rows_per_s=peak + peak_bell + peak_push,
        live_streams=live,
        api_processes=api,
        first_bottleneck=f"{bottleneck} ({pressures[bottleneck]:.0%} of its limit)",
    )


# --- measuring ------------------------------------------------------------------------------------------


def row_bytes(rows: int) -> dict[str, float]:
    """Bytes per row of the three growing tables, indexes included, in a scratch database."""
    from sqlalchemy import create_engine, text

    from bench.api import load
    from bench.common import scratch_database

    url = scratch_database("herald_bench_capacity")
    load(url, rows, 0)  # events, and 400 bell entries for each of ~500 users
    engine = create_engine(url)
    with engine.begin() as conn:
        columns = {
            r[0]
            for r in conn.execute(
                text("SELECT column_name FROM information_schema.columns WHERE table_name = 'push_deliveries'")
            )
        }
        when = ", occurred_at" if "occurred_at" in columns else ""
        conn.execute(
            text(
                f"INSERT INTO push_deliveries (notification_id, token, user_id, status, fcm_message_id, attempts, updated_at{when}) "
                "SELECT notification_id, 'fcm-token-' || md5(user_id) || repeat('x', 100), user_id, 'sent', "
                f"'projects/herald/messages/' || md5(notification_id::text), 1, created_at{when} FROM user_notifications"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        sizes = {}
        for table in ("activity_events", "user_notifications", "push_deliveries"):
            count = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            total = conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(CAST(:t AS regclass)) "
                    "WHERE isleaf"
                ),
                {"t": table},
            ).scalar_one()
            sizes[table] = float(total) / max(count, 1)
    engine.dispose()
    return sizes


def from_results() -> tuple[float, float]:
    """The persister's and fan-out's events/s of the last ``make bench`` (median run)."""
    parts = json.loads(RESULTS.read_text())["parts"]
    persister = statistics.median(r["herald"]["per_s"] for r in parts["persist"]["runs"])
    fanout = statistics.median(r["eos_on_per_s"] for r in parts["fanout"]["runs"])
    return persister, fanout


# --- report -----------------------------------------------------------------------------------------------


def table(sizes: list[Size]) -> list[str]:
    def row(label: str, fmt) -> str:
        return f"| {label} | " + " | ".join(fmt(s) for s in sizes) + " |"

    return [
        "| | " + " | ".join(f"{s.hospitals:,} hospitals" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
        row("events per day", lambda s: f"{s.events_per_day / 1e6:,.1f} M"),
        row(
            "peak events/s; bell entries/s; pushes/s",
            lambda s: f"{s.peak_events_per_s:,.0f}; {s.peak_bell_per_s:,.0f}; {s.peak_pushes_per_s:,.0f}",
        ),
        row("persisters / fan-outs / push senders", lambda s: f"{s.persisters} / {s.fanouts} / {s.push_senders}"),
        row("partitions: activity / push topic", lambda s: f"{s.activity_partitions} / {s.push_partitions}"),
        row("Kafka log, replicas included; brokers", lambda s: f"{s.kafka_tb:,.1f} TB; {s.brokers}"),
        row("Postgres hot data (feed, bell, deliveries)", lambda s: f"{s.postgres_hot_tb:,.2f} TB"),
        row("Postgres rows written/s at the peak", lambda s: f"{s.postgres_peak_rows_per_s:,.0f}"),
        row("live bell streams; API processes", lambda s: f"{s.live_streams:,}; {s.api_processes}"),
        row("first bottleneck", lambda s: s.first_bottleneck),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="events generated to measure bytes per row")
    parser.add_argument("--kafka-bytes-per-event", type=float, required=True, help="python bench/topic_bytes.py, lz4")
    parser.add_argument("--push-per-s", type=float, required=True, help="make bench-push: the push sender's pushes/s")
    parser.add_argument(
        "--live-streams",
        type=float,
        default=2_000,
        help="make bench-live: streams one API process held at p99 < 500 ms",
    )
    parser.add_argument("--beds", type=int, default=Assumptions.beds)
    parser.add_argument("--events-per-bed-day", type=float, default=Assumptions.events_per_bed_day)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.monotonic()
    persister, fanout = from_results()
    measured = Measured(
        persister_per_s=persister,
        fanout_per_s=fanout,
        push_per_s=args.push_per_s,
        live_streams_per_api=args.live_streams,
        kafka_bytes_per_event=args.kafka_bytes_per_event,
        row_bytes=row_bytes(args.rows),
    )
    assumptions = Assumptions(beds=args.beds, events_per_bed_day=args.events_per_bed_day)
    sizes = [plan(n, assumptions, measured) for n in (10, 100, 1_000)]
    print(
        "measured:",
        ", ".join(
            f"{k} {v:,.0f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in asdict(measured).items()
            if k != "row_bytes"
        ),
    )
    print("bytes per row, indexes included:", ", ".join(f"{t} {b:,.0f}" for t, b in measured.row_bytes.items()))
    print("assumptions:", ", ".join(f"{k} {v:g}" for k, v in asdict(assumptions).items()))
    print("\n".join(table(sizes)))
    print(f"({time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"measured": asdict(measured), "assumptions": asdict(assumptions), "sizes": [asdict(s) for s in sizes]},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
