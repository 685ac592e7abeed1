"""``herald rebuild feed``'s rate: ``--events`` demo events on a scratch activity topic of 12 partitions,
rebuilt into a fresh table of a scratch database (docs/decisions/0240-activity-topic-keeps-the-feed-window.md).
Also the rebuild process's own CPU per event, which depends less on what else the machine runs (the
broker's and Postgres's work is not in it).

Usage: python bench/rebuild.py [--events 200000] [--batch-size 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_settings, preload_events, scratch_database  # noqa: E402
from processors.persister.rebuild import rebuild_feed  # noqa: E402
from sinks.postgres.engine import build_engine  # noqa: E402
from streams.messages import ACTIVITY_EVENT  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    args = parser.parse_args()
    settings = bench_settings(scratch_database("bench_rebuild"))
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    preload_events(settings, args.events)
    engine = build_engine(settings.database_url, pool_size=1)
    started, cpu = time.perf_counter(), time.process_time()
    report = rebuild_feed(
        settings, engine, AvroSerde(ACTIVITY_EVENT, SchemaStore()), since=since, batch_size=args.batch_size
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    engine.dispose()
    print(
        f"read {report.read:,}, written {report.written:,} in {seconds:.1f} s: {report.written / seconds:,.0f} "
        f"events/s; the rebuild's own CPU {cpu:.1f} s: {report.written / cpu:,.0f} events per CPU second"
    )


if __name__ == "__main__":
    main()
