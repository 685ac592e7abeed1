"""Migration 0009 on a table of 5 million rows while the persister's sink writes: no row is lost or
doubled, and no write waits longer than the swap's short transaction."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli.devstack.databases import drop_database
from sinks.postgres.activity import ActivityEventSink
from sinks.postgres.activity_rows import event_row
from sinks.postgres.migrate import upgrade
from streams.messages import ActivityEvent

pytestmark = pytest.mark.integration
ROWS = int(os.environ.get("HERALD_TEST_MIGRATION_ROWS", "5000000"))
BATCH = 200


@pytest.fixture
def old_shape_database(services):
    """A database of its own at revision 0008 (activity_events a plain table) with ROWS events."""
    name = f"herald_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(services.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(services.database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url, "0008_opened_receipts")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, "
                "patient_id, title, notify, visibility) SELECT gen_random_uuid(), 'LAB_RESULT', 'NORMAL', "
                "now() - g * interval '1 second', 'org-' || (g % 50), 'p' || (g % 100000), 'Lab result', "
                "g % 3 = 0, 'ALL_MEMBERS' FROM generate_series(1, :n) g"
            ),
            {"n": ROWS},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE activity_events"))
    yield url, engine
    engine.dispose()
    drop_database(admin, name)
    admin.dispose()


def test_the_online_migration_loses_no_row_written_during_it(old_shape_database):
    url, engine = old_shape_database
    sink = ActivityEventSink(engine)
    written: list[uuid.UUID] = []
    waits: list[float] = []
    migrated = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        after = 0
        try:
            while after < 3:  # keeps writing until three batches after the migration's end
                after += migrated.is_set()
                batch = [
                    event_row(
                        ActivityEvent(uuid.uuid4(), "LAB_RESULT", datetime.now(timezone.utc), "org-w", "Lab result")
                    )
                    for _ in range(BATCH)
                ]
                started = time.monotonic()
                assert sink.write(batch) == []
                waits.append(time.monotonic() - started)
                written.extend(row[0] for row in batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    started = time.monotonic()
    try:
        upgrade(url)
    finally:
        migrated.set()
        thread.join(timeout=120)
    took = time.monotonic() - started

    assert not failures, failures
    with engine.connect() as conn:
        assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'activity_events'")).scalar() == "p"
        total = conn.execute(text("SELECT count(*) FROM activity_events")).scalar()
        found = conn.execute(
            text("SELECT count(*), count(DISTINCT event_id) FROM activity_events WHERE event_id = ANY(:ids)"),
            {"ids": written},
        ).one()
        legacy_indexes = conn.execute(
            text(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ix_activity_events_org_time'::regclass "
                "AND inhrelid = 'ix_activity_events_org_time_legacy'::regclass"
            )
        ).scalar()
    assert found == (len(written), len(written))
    assert total == ROWS + len(written)
    assert legacy_indexes == 1  # adopted, not rebuilt
    print(
        f"\nmigration of {ROWS} rows: {took:.1f} s; {len(written)} rows written during it in {len(waits)} batches; "
        f"slowest batch {max(waits):.2f} s"
    )
