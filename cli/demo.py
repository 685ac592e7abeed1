"""``herald demo`` / ``make demo``: the whole pipeline on the local stack, with a summary."""
from __future__ import annotations

import tempfile
import time

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from cli.processes import start_processor, stop_processor, wait_until
from cli.produce import produce_demo
from sinks.postgres.engine import build_engine
from sinks.postgres.migrate import upgrade
from streams.admin import create_topics, group_lag, wait_for_kafka
from streams.clients import build_admin
from streams.settings import PersisterSettings, ProducerSettings
from streams.topics import ACTIVITY, topic_specs

DEMO_PROCESSORS = {"persister": "processors.persister"}


def run_demo(console: Console, *, events: int, rate: float) -> int:
    """Runs every step and prints what happened; returns the exit code."""
    from cli import devstack

    settings = PersisterSettings()
    console.rule("1. local stack")
    devstack.print_status(devstack.up())
    console.rule("2. schema and topics")
    upgrade(settings.database_url)
    admin = build_admin(settings)
    wait_for_kafka(admin)
    for name, state in sorted(create_topics(admin, settings, topic_specs()).items()):
        console.print(f"  {name}: {state}")
    console.rule("3. processors")
    logs = tempfile.mkdtemp(prefix="herald-demo-")
    procs = {name: start_processor(module, log_path=f"{logs}/{name}.log") for name, module in DEMO_PROCESSORS.items()}
    console.print(f"  started {', '.join(procs)} (logs in {logs})")
    try:
        return _traffic_and_summary(console, settings, admin, events, rate)
    finally:
        for name, proc in procs.items():
            console.print(f"  {name} stopped with exit code {stop_processor(proc)}")


def _traffic_and_summary(console: Console, settings: PersisterSettings, admin, events: int, rate: float) -> int:
    console.rule("4. demo traffic")
    report = produce_demo(ProducerSettings(), events=events, rate=rate)
    console.print(f"  published {report.directory_records} directory records and {report.events} events "
                  f"in {report.seconds:.1f}s; delivery failures: {report.failures}")
    started = time.monotonic()
    topic = settings.topic(ACTIVITY)
    wait_until(lambda: sum(p.messages for p in group_lag(admin, settings.group("persister"), topic)) == 0,
               timeout=120, what="the persister to catch up")
    console.print(f"  persister caught up {time.monotonic() - started:.1f}s after the last publish")
    console.rule("5. what happened")
    _print_summary(console, settings)
    return 0


def _print_summary(console: Console, settings: PersisterSettings) -> None:
    engine = build_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT event_type, count(*), count(*) FILTER (WHERE notify) FROM activity_events "
            "GROUP BY event_type ORDER BY 2 DESC")).all()
        total = conn.execute(text("SELECT count(*) FROM activity_events")).scalar_one()
    table = Table("event type", "rows in activity_events", "notify=true")
    for event_type, count, notify in rows:
        table.add_row(event_type, str(count), str(notify))
    console.print(table)
    console.print(f"  activity_events holds {total} rows (all demo runs so far; idempotent on event_id)")
    engine.dispose()
