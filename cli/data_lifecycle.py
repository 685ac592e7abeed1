"""``herald partitions | retention | archive``: the time-partitioned tables' life cycle (docs/data-lifecycle.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

partitions = typer.Typer(
    help="Monthly partitions of activity_events, user_notifications, push_deliveries.", no_args_is_help=True
)
retention = typer.Typer(help="Retention: expired partitions archived and dropped whole.", no_args_is_help=True)
archive = typer.Typer(help="Archives of dropped partitions (gzip'd COPY CSV and a manifest).", no_args_is_help=True)
APPS = {"partitions": partitions, "retention": retention, "archive": archive}
console = Console()


def _engine():
    from sinks.postgres.engine import build_engine
    from sinks.postgres.settings import DataLifecycleSettings
    from streams.settings import PostgresSettings

    timeout_ms = DataLifecycleSettings().upkeep_statement_timeout_s * 1000
    return build_engine(PostgresSettings().database_url, pool_size=1, statement_timeout_ms=timeout_ms)


@partitions.command("maintain")
def partitions_maintain(
    ahead: int | None = typer.Option(None, help="Months to create past this one (HERALD_PARTITIONS_AHEAD_MONTHS)."),
) -> None:
    """Create this month's partition and the next ones (idempotent); run daily."""
    from sinks.postgres.partitions import maintain, upkeep_lock
    from sinks.postgres.settings import DataLifecycleSettings

    months = ahead or DataLifecycleSettings().partitions_ahead_months
    engine = _engine()
    with upkeep_lock(engine, wait=True):  # after `herald run lifecycle`'s tick, if one is running
        done = maintain(engine, now=datetime.now(timezone.utc), ahead=months)
    console.print(f"created: {', '.join(done.created) or 'none'}")
    if done.moved_from_default:
        console.print(f"rows moved out of the default partitions: {done.moved_from_default}")


@partitions.command("list")
def partitions_list() -> None:
    """Every partition of each partitioned table, with its bounds."""
    from sinks.postgres.partitions import PARTITIONED, existing_partitions

    with _engine().begin() as conn:
        for table in PARTITIONED:
            for p in existing_partitions(conn, table):
                bounds = "DEFAULT" if p.default else f"{p.lower or 'MINVALUE'} .. {p.upper or 'MAXVALUE'}"
                console.print(f"{table}\t{p.name}\t{bounds}")


@retention.command("run")
def retention_run(
    archive_dir: Annotated[
        Path | None,
        typer.Option(
            "--archive-dir",
            help="Where archives go (HERALD_ARCHIVE_DIR); without either, partitions are dropped unarchived.",
        ),
    ] = None,
    dry_run: bool = typer.Option(False, "--dry-run", help="Name the expired partitions; change nothing."),
) -> None:
    """Detach every partition wholly past its table's retention, archive it, drop it (re-attaching the rows of
    organizations that keep the month longer); delete the rows of organizations that keep it shorter; run daily."""
    from sinks.postgres.partitions import PARTITIONED, existing_partitions, upkeep_lock
    from sinks.postgres.retention import run_retention
    from sinks.postgres.retention_plan import fates
    from sinks.postgres.settings import DataLifecycleSettings

    settings = DataLifecycleSettings()
    now, engine = datetime.now(timezone.utc), _engine()
    organizations = settings.organization_days()
    if dry_run:
        with engine.begin() as conn:
            for table in PARTITIONED:
                keep = settings.keep_days()[table]
                overrides = organizations.get(table, {})
                for f in fates(existing_partitions(conn, table), now=now, keep_days=keep, organizations=overrides):
                    if f.drop:
                        kept = f", keeping the rows of {len(f.keep)} organization(s)" if f.keep else ""
                        console.print(f"would drop {f.partition.name} ({table}, retention {keep} days){kept}")
                    else:
                        console.print(
                            f"would delete the rows of {len(f.purge)} organization(s) from {f.partition.name}"
                        )
        return
    where = archive_dir or (Path(settings.archive_dir) if settings.archive_dir else None)
    with upkeep_lock(engine, wait=True):  # after `herald run lifecycle`'s tick, if one is running
        done = run_retention(
            engine, now=now, keep_days=settings.keep_days(), archive_dir=where, organizations=organizations
        )
    for manifest in done.archived:
        console.print(f"archived: {manifest}")
    for name, rows in done.purged.items():
        console.print(f"deleted from {name}: {rows} rows of organizations with a shorter retention")
    for name, rows in done.kept.items():
        console.print(f"kept in {name}: {rows} rows of organizations with a longer retention")
    console.print(f"dropped: {', '.join(done.dropped) or 'none'}")


@archive.command("restore")
def archive_restore(
    manifest: Annotated[Path, typer.Argument(help="The archive's manifest (<partition>.manifest.json).")],
    into: str | None = typer.Option(None, "--into", help="Table to create (default: restored_<partition>)."),
) -> None:
    """Reload an archived month into a table of its own, for an investigation (the live tables are untouched)."""
    from sinks.postgres.archive import restore

    table, rows = restore(_engine(), manifest, into=into)
    console.print(f"{rows} rows restored into {table}")


@archive.command("verify")
def archive_verify(manifest: Annotated[Path, typer.Argument(help="The archive's manifest.")]) -> None:
    """Check an archive's file against its manifest (format, SHA-256)."""
    from sinks.postgres.archive import ArchiveDamaged, verify

    try:
        found = verify(manifest)
    except ArchiveDamaged as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    whose = f" of {len(found.organizations)} organization(s)" if found.organizations is not None else ""
    console.print(
        f"{found.partition}: {found.rows} rows{whose}, {found.key} {found.key_min} .. {found.key_max}, intact"
    )
