"""The ``herald`` console script: local stack, topics, database, processors, demo traffic, lag, DLQ."""
from __future__ import annotations

import importlib
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import KafkaSettings, PostgresSettings, ProducerSettings

app = typer.Typer(help="Herald: EMR activity and notification pipeline.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
dev = typer.Typer(help="The local stack: real Kafka (KRaft) and PostgreSQL, no Docker.", no_args_is_help=True)
topics = typer.Typer(help="Kafka topics.", no_args_is_help=True)
db = typer.Typer(help="The Postgres schema (Alembic).", no_args_is_help=True)
produce = typer.Typer(help="Synthetic EMR traffic.", no_args_is_help=True)
dlq = typer.Typer(help="Dead-letter topics.", no_args_is_help=True)
for sub, name in ((dev, "dev"), (topics, "topics"), (db, "db"), (produce, "produce"), (dlq, "dlq")):
    app.add_typer(sub, name=name)
console = Console()

PROCESSORS = {"persister": "processors.persister.__main__"}


@dev.command("up")
def dev_up() -> None:
    """Start (or reuse) Postgres and Kafka and wait until both answer."""
    from cli import devstack

    try:
        devstack.print_status(devstack.up())
    except devstack.DevstackError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1)


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
def topics_create(partitions: int = typer.Option(12, help="Partitions of the busy topics.")) -> None:
    """Create every Herald topic that is missing (idempotent)."""
    from streams.admin import create_topics, wait_for_kafka
    from streams.clients import build_admin
    from streams.topics import topic_specs

    settings = KafkaSettings()
    admin = build_admin(settings)
    wait_for_kafka(admin)
    for name, state in sorted(create_topics(admin, settings, topic_specs(partitions)).items()):
        console.print(f"{name}: {state}")


@db.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema."""
    from sinks.postgres.migrate import upgrade

    upgrade(PostgresSettings().database_url, revision)
    console.print(f"database at {revision}")


@app.command("run")
def run(processor: str = typer.Argument(..., help="|".join(PROCESSORS))) -> None:
    """Run one processor until SIGTERM."""
    if processor not in PROCESSORS:
        console.print(f"[red]unknown processor {processor!r}; available: {', '.join(PROCESSORS)}[/red]")
        raise typer.Exit(2)
    importlib.import_module(PROCESSORS[processor]).main()


@produce.command("demo")
def produce_demo(events: int = typer.Option(1000, "--events", "-n"), rate: float = typer.Option(0.0, help="events/s; 0 = as fast as possible"),
                 seed: int = 7, directory: bool = typer.Option(True, help="Publish the demo directory first.")) -> None:
    """Publish synthetic organizations, users, care teams and a realistic mix of activity events."""
    from cli.produce import produce_demo as run_produce

    report = run_produce(ProducerSettings(), events=events, rate=rate, seed=seed, directory=directory)
    console.print(f"published {report.directory_records} directory records and {report.events} events "
                  f"in {report.seconds:.1f}s ({report.events / max(report.seconds, 1e-9):,.0f}/s); failures: {report.failures}")
    if report.failures:
        raise typer.Exit(1)


@app.command("lag")
def lag(group: Optional[list[str]] = typer.Option(None, help="Group base names; default: every processor.")) -> None:
    """Consumer lag per group and partition, from the broker's committed offsets."""
    from streams.admin import group_lag
    from streams.clients import build_admin
    from streams.topics import ACTIVITY

    settings = KafkaSettings()
    admin = build_admin(settings)
    table = Table("group", "topic", "partition", "committed", "end", "lag")
    for base in group or list(PROCESSORS):
        for row in group_lag(admin, settings.group(base), settings.topic(ACTIVITY)):
            table.add_row(row.group, row.topic, str(row.partition), str(row.committed), str(row.end), str(row.messages))
    console.print(table)


@dlq.command("list")
def dlq_list(topic: str = typer.Option("activity-events.dlq.v1", help="Base name of the dead-letter topic."),
             limit: int = 50) -> None:
    """Dead-lettered records with their reasons."""
    from cli.dlq import read_dlq

    settings = KafkaSettings()
    table = Table("partition", "offset", "error", "reason", "source")
    for e in read_dlq(settings, settings.topic(topic), limit):
        h = e.headers
        table.add_row(str(e.partition), str(e.offset), h.get("herald.error.type", ""), h.get("herald.error.reason", ""),
                      f"{h.get('herald.source.topic', '')}[{h.get('herald.source.partition', '')}]@{h.get('herald.source.offset', '')}")
    console.print(table)


@app.command("demo")
def demo(events: int = typer.Option(2000, "--events", "-n"), rate: float = 0.0) -> None:
    """Everything in one go: stack up, migrate, topics, processors, demo traffic, a summary."""
    from cli.demo import run_demo

    raise typer.Exit(run_demo(console, events=events, rate=rate))


if __name__ == "__main__":
    app()
