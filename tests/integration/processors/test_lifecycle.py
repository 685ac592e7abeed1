"""The lifecycle processor against real Postgres: a tick creates the months ahead and, with retention on,
drops what expired and cleans organizations' months; its gauges say how far ahead the months are ready,
what waits in the default partition and what is overdue; a second upkeep skips while one holds the lock;
``herald run lifecycle`` serves them and is ready."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from cli.processes import start_processor, stop_processor, wait_until
from processors.lifecycle import app, metrics
from processors.lifecycle.settings import LifecycleSettings
from sinks.postgres import partitions, retention
from sinks.postgres.partitions import upkeep_lock
from tests.integration.scratch import partitioned_table
from tests.ports import free_port

pytestmark = pytest.mark.integration
UTC = timezone.utc
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def table(engine, monkeypatch):
    """A partitioned table of its own, standing in for the feed: August 2026 and a default partition."""
    name = partitioned_table(
        engine,
        "test_life",
        "id uuid NOT NULL DEFAULT gen_random_uuid(), organization_id text NOT NULL, occurred_at timestamptz NOT NULL, "
        "PRIMARY KEY (id, occurred_at)",
        {"p202608": ("2026-08-01Z", "2026-09-01Z")},
    )
    for module in (partitions, retention, app):
        monkeypatch.setattr(module, "PARTITIONED", {name: "occurred_at"})
    yield name
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {name}"))


def gauge(metric, table: str, **labels: str) -> float:
    return metric.labels(table, *labels.values())._value.get()


def settings(**values) -> LifecycleSettings:
    return LifecycleSettings(partitions_ahead_months=2, **values)


def retention_on(table: str) -> LifecycleSettings:
    """Retention on, the table keeping 60 days and organization "long" 400 (the settings name the live
    tables; the test's table stands in for the feed)."""

    class Settings(LifecycleSettings):
        def keep_days(self) -> dict[str, int | None]:
            return {table: 60}

        def organization_days(self) -> dict[str, dict[str, int]]:
            return {table: {"long": 400}}

    return Settings(partitions_ahead_months=2, lifecycle_retention=True)


def test_a_tick_without_retention_only_creates_the_months_ahead(engine, table):
    with engine.begin() as conn:  # a row dated past every month: waits in the default partition
        conn.execute(text(f"INSERT INTO {table} (organization_id, occurred_at) VALUES ('o', '2031-01-01Z')"))
    lifecycle = app.Lifecycle(engine, settings(), clock=lambda: NOW)
    lifecycle.tick()
    with engine.begin() as conn:
        names = [p.name for p in partitions.existing_partitions(conn, table)]
    assert names == [f"{table}_p202608", f"{table}_p202612", f"{table}_p202701", f"{table}_p202702", f"{table}_default"]
    assert gauge(metrics.READY, table) == 2 and gauge(metrics.DEFAULT_ROWS, table) == 1
    assert gauge(metrics.CREATED, table) == 3 and gauge(metrics.DROPPED, table) == 0


def test_with_retention_on_a_tick_drops_the_expired_month_and_keeps_a_longer_organization(engine, table):
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {table} (organization_id, occurred_at) VALUES ('long', '2026-08-02Z'), ('x', '2026-08-03Z')"
            )
        )
    lifecycle = app.Lifecycle(engine, retention_on(table), clock=lambda: NOW)
    lifecycle.tick()
    with engine.begin() as conn:
        left = conn.execute(text(f"SELECT organization_id FROM {table}_p202608")).scalars().all()
    assert left == ["long"]
    assert gauge(metrics.DROPPED, table) == 1 and gauge(metrics.ROWS, table, action="kept") == 1
    assert gauge(metrics.OVERDUE, table) == 0

    later = app.Lifecycle(engine, lifecycle.settings, clock=lambda: datetime(2028, 1, 1, tzinfo=UTC))
    with upkeep_lock(engine, wait=True):  # another upkeep at work: this one only measures
        later.tick()
    with engine.begin() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}_p202608")).scalar() == 1
    assert gauge(metrics.OVERDUE, table) >= 1  # August 2026 and the months after it are past every period
    assert gauge(metrics.READY, table) == -1  # and January 2028 has no partition
    later.tick()
    assert gauge(metrics.OVERDUE, table) == 0 and gauge(metrics.READY, table) == 2


def test_herald_run_lifecycle_serves_its_gauges_and_is_ready(database_url, tmp_path):
    port = free_port()
    proc = start_processor(
        "processors.lifecycle",
        env={"HERALD_DATABASE_URL": database_url, "HERALD_METRICS_PORT": str(port)},
        log_path=str(tmp_path / "lifecycle.log"),
    )
    try:

        def ready_months() -> float | None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code != 200:
                    return None
                page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None
            for family in text_string_to_metric_families(page):
                for sample in family.samples:
                    if sample.name == "herald_partitions_months_ready" and sample.labels["table"] == "activity_events":
                        return sample.value
            return None

        wait_until(lambda: ready_months() is not None, 60, what="/readyz and the months-ready gauge")
        assert ready_months() >= 3  # HERALD_PARTITIONS_AHEAD_MONTHS' default, or more made earlier
    finally:
        assert stop_processor(proc) == 0, (tmp_path / "lifecycle.log").read_text()[-2000:]


def test_upkeep_statements_may_run_as_long_as_their_own_setting_says(database_url):
    from processors.lifecycle.__main__ import build

    lifecycle = build(LifecycleSettings(database_url=database_url, upkeep_statement_timeout_s=1234))
    try:
        with lifecycle.engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234s"  # not the pipeline's 60 s
    finally:
        lifecycle.engine.dispose()
