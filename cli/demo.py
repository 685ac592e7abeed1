"""``herald demo`` / ``make demo``: the whole pipeline on the local stack, with a summary."""

from __future__ import annotations

import functools
import signal
import tempfile
import time

from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from cli.demo_api import api_child, try_the_api
from cli.demo_push import PUSH_ENV, prepare_devices, print_push_summary, pushes_settled
from cli.processes import ports_taken, wait_until
from cli.produce import produce_demo, seed_demo_preferences
from cli.supervisor import Supervisor, herald_child
from processors.persister.settings import PersisterSettings
from processors.registry import PROCESSES
from sinks.postgres.engine import build_engine
from sinks.postgres.migrate import upgrade
from streams.admin import create_topics, group_lag, wait_for_kafka
from streams.clients import build_admin
from streams.settings import KafkaSettings, ProducerSettings
from streams.topics import ACTIVITY, DIRECTORY, PUSH, topic_specs

# Every registered process the demo needs, the API last (it is started with its own env).
DEMO_PROCESSORS = tuple(name for name, p in PROCESSES.items() if p.in_demo and name != "api")


def run_demo(console: Console, *, events: int, rate: float) -> int:
    """Runs every step and prints what happened; returns the exit code."""
    from cli import devstack

    taken = ports_taken([*DEMO_PROCESSORS, "api"])
    for line in taken:  # refuse up front: started anyway, each process would fail on its port
        console.print(f"[red]{line}[/red]", soft_wrap=True)
    if taken:
        return 1
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
    children = [herald_child(name, PUSH_ENV, f"{logs}/{name}.log") for name in DEMO_PROCESSORS]
    supervisor = Supervisor(
        [*children, api_child(f"{logs}/api.log")], report=lambda line: console.print(f"  [yellow]{line}[/yellow]")
    )
    signal.signal(signal.SIGTERM, _interrupt)  # the finally below stops the processes, as on Ctrl-C
    supervisor.start()
    console.print(f"  started {', '.join(c.name for c in children)}, api (logs in {logs})")
    try:
        code = _traffic_and_summary(console, settings, admin, events, rate)
        try_the_api(console, supervisor)
        return code
    except KeyboardInterrupt:
        console.print("  interrupted")
        return 130
    finally:
        for name, exit_code in supervisor.stop().items():
            console.print(f"  {name} stopped" + ("" if exit_code is None else f" with exit code {exit_code}"))


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _caught_up(admin: AdminClient, settings: KafkaSettings, group: str, topic_base: str) -> bool:
    return sum(p.messages for p in group_lag(settings, settings.group(group), settings.topic(topic_base))) == 0


def _traffic_and_summary(
    console: Console, settings: PersisterSettings, admin: AdminClient, events: int, rate: float
) -> int:
    console.rule("4. demo traffic")
    producer_settings = ProducerSettings()
    directory = produce_demo(producer_settings, events=0, rate=0)
    seeded = seed_demo_preferences(settings.database_url)
    wait_until(lambda: _caught_up(admin, settings, "directory", DIRECTORY), 120, what="the directory to load")
    console.print(
        f"  directory: {directory.directory_records} users and care-team memberships loaded; "
        f"{seeded} users push from NORMAL up, half of them in quiet hours now"
    )
    prepare_devices(console, settings.database_url)
    report = produce_demo(producer_settings, events=events, rate=rate, directory=False, event_seed=None)
    console.print(f"  published {report.events} events in {report.seconds:.1f}s; delivery failures: {report.failures}")
    started = time.monotonic()
    for group in ("persister", "fanout"):
        wait_until(
            functools.partial(_caught_up, admin, settings, group, ACTIVITY), 120, what=f"the {group} to catch up"
        )
    console.print(f"  persister and fan-out caught up {time.monotonic() - started:.1f}s after the last publish")
    wait_until(lambda: pushes_settled(settings), 180, interval=0.5, what="the push sender and its retries")
    console.print(f"  push sender done, retries included, {time.monotonic() - started:.1f}s after the last publish")
    console.rule("5. what happened")
    _print_summary(console, settings)
    print_push_summary(console, settings)
    return 0


ALERTS_SQL = (
    "SELECT count(*), count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'acknowledged'), "
    "count(*) FILTER (WHERE state = 'exhausted'), "
    "(SELECT count(*) FROM alert_steps s JOIN alerts a USING (event_id) "
    "WHERE s.step > 0 AND s.step < jsonb_array_length(a.policy -> 'steps') AND s.fired_at IS NOT NULL) FROM alerts"
)


def _print_summary(console: Console, settings: PersisterSettings) -> None:
    engine = build_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text(SUMMARY_SQL)).all()
        held = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE released_at IS NULL), "
                "count(*) FILTER (WHERE outcome = 'digest') FROM held_notifications"
            )
        ).one()
        alerts = conn.execute(text(ALERTS_SQL)).one()
    table = Table("event type", "events", "notify", "bell rows", "push now", "held", "bell only")
    for row in rows:
        table.add_row(*[str(v) for v in row])
    console.print(table)
    console.print(
        f"  held for quiet hours: {held[0]} waiting, {held[1]} released in digests; "
        f"push requests on {settings.topic(PUSH)}: {_topic_size(settings, PUSH)}"
    )
    console.print(
        f"  urgent alerts: {alerts[0]} raised, {alerts[1]} awaiting acknowledgement, {alerts[2]} acknowledged, "
        f"{alerts[3]} exhausted; {alerts[4]} escalation steps fired after the first (docs/alerts.md)"
    )
    console.print("  (totals over every demo run: all writes are idempotent)")
    engine.dispose()


SUMMARY_SQL = """
SELECT e.event_type, count(DISTINCT e.event_id), count(DISTINCT e.event_id) FILTER (WHERE e.notify),
       count(n.notification_id), count(n.notification_id) FILTER (WHERE n.push_status NOT IN ('none', 'held', 'digest', 'dropped')),
       count(n.notification_id) FILTER (WHERE n.push_status IN ('held', 'digest', 'dropped')),
       count(n.notification_id) FILTER (WHERE n.push_status = 'none')
FROM activity_events e LEFT JOIN user_notifications n ON n.event_id = e.event_id
GROUP BY e.event_type ORDER BY 2 DESC
"""


def _topic_size(settings: KafkaSettings, base: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "herald-demo-probe"})
    try:
        topic = settings.topic(base)
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(
            h - lo for lo, h in (consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts)
        )
    finally:
        consumer.close()
