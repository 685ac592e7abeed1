"""``herald rebuild feed``: the feed built again from the activity topic (processors/persister/rebuild.py)."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 130)

rebuild = typer.Typer(help="Projections of the log built again from it.", no_args_is_help=True)


@rebuild.command("feed")
def rebuild_feed_command(
    since: str = typer.Option(..., "--since", help="First record time (ISO 8601 date or time; UTC unless it says)."),
    until: Optional[str] = typer.Option(None, "--until", help="Records stamped before this time only."),
    into: str = typer.Option("activity_events_rebuild", "--into", help="Table to write (made like activity_events)."),
    into_live: bool = typer.Option(False, "--into-live", help="Allow --into activity_events: add what it misses."),
    replace: bool = typer.Option(False, "--replace", help="Drop the table first (else an earlier run is resumed)."),
    batch_size: int = typer.Option(20_000, "--batch-size", min=1, help="Rows per transaction."),
) -> None:
    """Re-read the activity topic from --since into a fresh table, decoded as the persister decodes
    (docs/operations.md#rebuilding-the-feed-from-the-log)."""
    from datetime import datetime

    from processors.persister.rebuild import RebuildRefused
    from processors.persister.rebuild import rebuild_feed as run_rebuild
    from processors.persister.settings import PersisterSettings
    from sinks.postgres.engine import build_engine
    from streams.messages import ACTIVITY_EVENT
    from streams.serde import AvroSerde, SchemaStore, registry_client

    settings = PersisterSettings()
    try:
        first, last = datetime.fromisoformat(since), (datetime.fromisoformat(until) if until else None)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore(), registry=registry_client(settings.schema_registry_url))
    engine = build_engine(settings.database_url, pool_size=1)
    progress = lambda r: console.print(f"read {r.read:,}, written {r.written:,}")  # noqa: E731
    try:
        report = run_rebuild(
            settings,
            engine,
            serde,
            since=first,
            until=last,
            table=into,
            into_live=into_live,
            replace=replace,
            batch_size=batch_size,
            on_batch=progress,
        )
    except RebuildRefused as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(
        f"{report.table}: read {report.read:,}; written {report.written:,}; already stored {report.already_stored:,}; "
        f"conflicting versions {report.conflicting:,}; outside the window {report.outside_window:,}; "
        f"replays for other groups {report.other_groups:,}; undecodable {report.undecodable:,}"
    )
    for kind, n in sorted(report.skipped.items()):
        console.print(f"  undecodable, {kind}: {n:,}")
