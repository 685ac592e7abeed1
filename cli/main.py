"""The ``herald`` console script: local stack, topics, database, processors, demo traffic, lag, DLQ."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Optional

import typer
from rich.console import Console

from cli.data_lifecycle import APPS as LIFECYCLE_APPS
from cli.rebuild import rebuild as rebuild_app
from processors.registry import PROCESSES
from streams.settings import KafkaSettings, PostgresSettings, ProducerSettings
from streams.topics import ACTIVITY_RETENTION_DAYS, PUSH_PARTITIONS

app = typer.Typer(
    help="Herald: EMR activity and notification pipeline.", no_args_is_help=True, pretty_exceptions_enable=False
)
dev = typer.Typer(help="The local stack: real Kafka (KRaft) and PostgreSQL, no Docker.", no_args_is_help=True)
topics = typer.Typer(help="Kafka topics.", no_args_is_help=True)
db = typer.Typer(help="The Postgres schema (Alembic).", no_args_is_help=True)
produce = typer.Typer(help="Synthetic EMR traffic.", no_args_is_help=True)
dlq = typer.Typer(help="Dead-letter topics.", no_args_is_help=True)
for sub, name in ((dev, "dev"), (topics, "topics"), (db, "db"), (produce, "produce"), (dlq, "dlq")):
    app.add_typer(sub, name=name)
console = Console(width=None if sys.stdout.isatty() else 130)  # CI logs are not terminals: keep tables whole


@dev.command("up")
def dev_up(
    brokers: Optional[int] = typer.Option(
        None,
        min=1,
        max=3,
        help="Kafka nodes (each broker and controller); 3 gives replicated topics. "
        "Default: as many as the state dir already holds, else 1.",
    ),
) -> None:
    """Start (or reuse) Postgres and Kafka and wait until both answer."""
    from cli import devstack

    try:
        devstack.print_status(devstack.up(brokers))
    except devstack.DevstackError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@dev.command("down")
def dev_down() -> None:
    """Stop what `dev up` started, and nothing else."""
    from cli import devstack

    devstack.down()


@dev.command("status")
def dev_status() -> None:
    """Each part of the local stack, its address and whether it answers."""
    from cli import devstack

    devstack.print_status()


@topics.command("create")
def topics_create(
    partitions: int = typer.Option(12, help="Partitions of the activity topic."),
    push_partitions: int = typer.Option(
        PUSH_PARTITIONS, help="Partitions of the push topic (at most this many push-sender replicas share the work)."
    ),
    activity_retention_days: int = typer.Option(
        ACTIVITY_RETENTION_DAYS, help="Retention of the activity topic: how far back `herald rebuild feed` reaches."
    ),
) -> None:
    """Create every Herald topic that is missing (idempotent); name existing ones whose configs differ
    from the spec (`herald topics sync` sets them)."""
    from streams.admin import create_topics, wait_for_kafka
    from streams.clients import build_admin
    from streams.topic_configs import config_drift
    from streams.topics import topic_specs

    settings = KafkaSettings()
    admin = build_admin(settings)
    wait_for_kafka(admin)
    specs = topic_specs(partitions, push_partitions, activity_retention_days)
    for name, state in sorted(create_topics(admin, settings, specs).items()):
        console.print(f"{name}: {state}")
    drift, _ = config_drift(admin, settings, specs)
    for name, changes in sorted(drift.items()):
        keys = ", ".join(f"{c.key} {c.current} (spec: {c.wanted})" for c in changes)
        console.print(f"[yellow]{name}: configs differ from the spec: {keys}; `herald topics sync` sets them[/yellow]")


@topics.command("sync")
def topics_sync(
    partitions: int = typer.Option(12, help="Partitions of the activity topic (not changed; names the specs)."),
    push_partitions: int = typer.Option(PUSH_PARTITIONS, help="Partitions of the push topic (not changed)."),
    activity_retention_days: int = typer.Option(
        ACTIVITY_RETENTION_DAYS, help="Retention of the activity topic: how far back `herald rebuild feed` reaches."
    ),
    allow_shorter_retention: bool = typer.Option(
        False, "--allow-shorter-retention", help="Also apply changes that make the broker delete records sooner."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing."),
) -> None:
    """Set the retention, segment and compaction configs of existing topics to the specs' values
    (docs/operations.md#topic-retention-and-sizing); a change that deletes records sooner is refused
    unless --allow-shorter-retention."""
    from streams.admin import wait_for_kafka
    from streams.clients import build_admin
    from streams.topic_configs import sync_topic_configs
    from streams.topics import topic_specs

    settings = KafkaSettings()
    admin = build_admin(settings)
    wait_for_kafka(admin)
    report = sync_topic_configs(
        admin,
        settings,
        topic_specs(partitions, push_partitions, activity_retention_days),
        allow_shorter=allow_shorter_retention,
        dry_run=dry_run,
    )
    verb = "would set" if dry_run else "set"
    for name, changes in sorted(report.applied.items()):
        for c in changes:
            console.print(f"{name}: {verb} {c.key} {c.current} -> {c.wanted}")
    for name, changes in sorted(report.refused.items()):
        for c in changes:
            console.print(
                f"[yellow]{name}: refused {c.key} {c.current} -> {c.wanted} (deletes records sooner; "
                "--allow-shorter-retention applies it)[/yellow]"
            )
    for name in report.missing:
        console.print(f"{name}: missing (`herald topics create` makes it)")
    if not report.applied and not report.refused:
        console.print("every existing topic has its spec's configs")


@db.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema."""
    from sinks.postgres.migrate import upgrade

    upgrade(PostgresSettings().database_url, revision)
    console.print(f"database at {revision}")


@app.command("run")
def run(
    processor: str = typer.Argument(..., help="|".join(PROCESSES) + "|all"),
    once: bool = typer.Option(False, "--once", help="reconciler: one pass over what is pending, then exit"),
    database_url: Optional[str] = typer.Option(
        None, "--database-url", help="outbox-relay: the EMR's database holding the outbox (HERALD_OUTBOX_DATABASE_URL)"
    ),
) -> None:
    """Run one processor until SIGTERM; `all`: every processor and the API, supervised, in one terminal."""
    if processor == "all":
        from cli.supervisor import run_all

        raise typer.Exit(run_all(console, list(PROCESSES)))
    if processor not in PROCESSES:
        console.print(f"[red]unknown processor {processor!r}; available: {', '.join(PROCESSES)}[/red]")
        raise typer.Exit(2)
    if processor == "api":  # uvicorn's bind error is a traceback: name the port's holder instead
        from cli.processes import ports_taken
        from streams.health import EXIT_PORT_IN_USE

        for line in ports_taken(["api"]):
            console.print(f"[red]{line}[/red]", soft_wrap=True)
            raise typer.Exit(EXIT_PORT_IN_USE)
    if processor == "push-sender":
        from cli.devstack import default_fcm_env

        os.environ.update(default_fcm_env(os.environ))  # local runs push to the emulator unless FCM is configured
    if database_url and processor == "outbox-relay":
        os.environ["HERALD_OUTBOX_DATABASE_URL"] = database_url
    module = importlib.import_module(f"{PROCESSES[processor].module}.__main__")
    module.main(once=True) if once and processor == "reconciler" else module.main()


@produce.command("demo")
def produce_demo(
    events: int = typer.Option(1000, "--events", "-n"),
    rate: float = typer.Option(0.0, help="events/s; 0 = as fast as possible"),
    seed: int = 7,
    directory: bool = typer.Option(True, help="Publish the demo directory first."),
    devices: bool = typer.Option(
        True, help="Register 1-2 device tokens per demo user (some scripted UNREGISTERED in the FCM emulator)."
    ),
) -> None:
    """Publish synthetic organizations, users, care teams and a realistic mix of activity events."""
    from cli.devstack import default_fcm_env
    from cli.produce import produce_demo as run_produce
    from cli.produce import register_demo_devices

    report = run_produce(ProducerSettings(), events=events, rate=rate, seed=seed, directory=directory)
    console.print(
        f"published {report.directory_records} directory records and {report.events} events "
        f"in {report.seconds:.1f}s ({report.events / max(report.seconds, 1e-9):,.0f}/s); failures: {report.failures}"
    )
    if devices:
        fcm = os.environ.get("HERALD_FCM_ENDPOINT") or default_fcm_env(os.environ).get("HERALD_FCM_ENDPOINT")
        d = register_demo_devices(PostgresSettings().database_url, fcm, seed=seed)
        console.print(
            f"registered {d.tokens} device tokens for {d.users} users; {d.scripted_unregistered} scripted "
            f"UNREGISTERED in the FCM emulator"
        )
    if report.failures:
        raise typer.Exit(1)


@app.command("lag")
def lag(
    group: Optional[list[str]] = typer.Option(
        None, help="Group base names; default: every group named HERALD_GROUP_PREFIX*."
    ),
) -> None:
    """Lag per group and partition in messages and seconds, with group state and members, from the
    broker alone (what `herald run lag-exporter` exports)."""
    from cli.lag import lag_tables
    from processors.lag_exporter.app import LagExporter
    from processors.lag_exporter.settings import LagExporterSettings

    settings = LagExporterSettings()
    exporter = LagExporter.from_settings(settings)
    try:
        snapshot = exporter.collect([settings.group(g) for g in group] if group else None)
    finally:
        exporter.close()
    for table in lag_tables(snapshot):
        console.print(table)


@dlq.command("list")
def dlq_list(
    topic: str = typer.Option(
        "activity-events.dlq.v1",
        help="Base name of the dead-letter topic (activity-events.dlq.v1 | notifications.push.dlq.v1).",
    ),
    limit: int = 50,
) -> None:
    """Dead-lettered records with the consumer group that rejected them, their reasons, FCM code and attempts
    (push DLQ), and whether replayed."""
    from cli.dlq import dlq_table, read_dlq, replayed_coordinates

    settings = KafkaSettings()
    full = settings.topic(topic)
    console.print(dlq_table(full, read_dlq(settings, full, limit), replayed_coordinates(settings)))


@dlq.command("replay")
def dlq_replay(
    topic: str = typer.Option("activity-events.dlq.v1", help="Base name of the dead-letter topic."),
    offset: Optional[list[int]] = typer.Option(None, help="Only these offsets (repeatable)."),
    partition: Optional[int] = typer.Option(None, help="Only this partition."),
    code: Optional[str] = typer.Option(None, help="Only records with this FCM error code or error type."),
    group: Optional[str] = typer.Option(
        None, help="Only records this consumer group dead-lettered (base name, e.g. persister or fanout)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be replayed; replay nothing."),
) -> None:
    """Put dead-lettered records back on their source topic, each exactly once (see docs/push.md)."""
    from cli.dlq import dlq_table, replay_dlq, selector

    settings = KafkaSettings()
    full = settings.topic(topic)
    report = replay_dlq(
        settings,
        full,
        selector(offsets=offset, partition=partition, code=code, group=settings.group(group) if group else None),
        dry_run=dry_run,
    )
    if report.replayed:
        console.print(dlq_table(full, report.replayed, set(), title="would replay" if dry_run else "replayed"))
    for entry, why in report.skipped:
        console.print(f"[yellow]skipped {entry.partition}@{entry.offset}: {why}[/yellow]")
    verb = "would replay" if dry_run else "replayed"
    console.print(f"{verb} {len(report.replayed)}; already replayed before: {report.already_replayed}")


outbox = typer.Typer(help="The transactional outbox in an EMR's database (docs/outbox.md).", no_args_is_help=True)
app.add_typer(outbox, name="outbox")
for name, lifecycle_app in LIFECYCLE_APPS.items():
    app.add_typer(lifecycle_app, name=name)


@outbox.command("install")
def outbox_install(
    database_url: str = typer.Option(..., "--database-url", help="The EMR's database (SQLAlchemy or libpq URL)."),
    table: str = typer.Option("herald_outbox", help="Name of the outbox table (its dead letters: <table>_dead)."),
) -> None:
    """Create the outbox table, its relay index, its insert trigger and its dead-letter table (idempotent)."""
    from cli.outbox import install

    install(database_url, table)
    console.print(f"outbox {table} installed (dead letters: {table}_dead)")


@app.command("demo")
def demo(events: int = typer.Option(2000, "--events", "-n"), rate: float = 0.0) -> None:
    """Everything in one go: stack up, migrate, topics, processors, demo traffic, a summary."""
    from cli.demo import run_demo

    raise typer.Exit(run_demo(console, events=events, rate=rate))


app.add_typer(rebuild_app, name="rebuild")


if __name__ == "__main__":
    app()
