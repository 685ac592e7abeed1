"""Per-organization retention against real Postgres: a month past its table's retention is dropped but
the rows of an organization that keeps it longer come back as the month's partition; an organization
that keeps a month shorter has exactly its rows deleted and archived; a crashed run is finished by the
next one; rows that reached the default partition meanwhile are not lost."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text

from sinks.postgres import archive, partitions, retention
from sinks.postgres.migrate import upgrade
from tests.integration.scratch import partitioned_table, scratch_database

pytestmark = pytest.mark.integration
UTC = timezone.utc
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)  # 60 days back: 2026-10-05; 30 days back: 2026-11-04
MONTHS = {
    "p202609": ("2026-09-01Z", "2026-10-01Z"),
    "p202610": ("2026-10-01Z", "2026-11-01Z"),
    "p202611": ("2026-11-01Z", "2026-12-01Z"),
}


@pytest.fixture
def table(engine, monkeypatch):
    """A partitioned table of its own with September to November 2026 and a default partition."""
    name = partitioned_table(
        engine,
        "test_orgret",
        "id uuid NOT NULL DEFAULT gen_random_uuid(), organization_id text NOT NULL, occurred_at timestamptz NOT NULL, "
        "note text, PRIMARY KEY (id, occurred_at)",
        MONTHS,
    )
    with engine.begin() as conn:
        conn.execute(text(f"CREATE INDEX ON {name} (organization_id, occurred_at DESC)"))
    for module in (partitions, retention):
        monkeypatch.setattr(module, "PARTITIONED", {name: "occurred_at"})
    yield name
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {name}, {name}_p202609, {name}_p202609_kept, {name}_p202610"))
        conn.execute(text(f"DROP TABLE IF EXISTS restored_{name}_p202610_organizations"))


def insert(engine, table: str, organization: str, day: str, n: int = 1) -> None:
    with engine.begin() as conn:
        for _ in range(n):
            conn.execute(
                text(f"INSERT INTO {table} (organization_id, occurred_at, note) VALUES (:o, :at, 'x,\"y\"\nz')"),
                {"o": organization, "at": f"{day}T08:00:00Z"},
            )


def rows(engine, relation: str) -> list[tuple[str, str]]:
    with engine.begin() as conn:
        return sorted(
            (org, f"{at:%Y-%m-%d}")
            for org, at in conn.execute(text(f"SELECT organization_id, occurred_at FROM {relation}")).all()
        )


def attached(engine, table: str) -> list[tuple[str, datetime | None, datetime | None]]:
    with engine.begin() as conn:
        return [(p.name, p.lower, p.upper) for p in partitions.existing_partitions(conn, table)]


def run(engine, table: str, archive_dir, **organizations: int) -> retention.RetentionRun:
    return retention.run_retention(
        engine, now=NOW, keep_days={table: 60}, archive_dir=archive_dir, organizations={table: organizations}
    )


def test_a_dropped_month_keeps_the_rows_of_an_organization_with_longer_retention(engine, table, tmp_path):
    insert(engine, table, "other", "2026-09-10", n=3)
    insert(engine, table, "long", "2026-09-20", n=2)
    insert(engine, table, "long", "2026-10-20")
    before = attached(engine, table)

    done = run(engine, table, tmp_path, long=400)

    assert done.dropped == [f"{table}_p202609"] and done.kept == {f"{table}_p202609": 2}
    assert attached(engine, table) == before  # the same month, bounds and name, attached again
    assert rows(engine, f"{table}_p202609") == [("long", "2026-09-20")] * 2
    whole = archive.Manifest.read(done.archived[0])
    assert whole.rows == 5 and whole.organizations is None  # the audit trail holds the whole month
    with engine.begin() as conn:  # the new partition has the table's primary key (its index was attached)
        keys = conn.execute(text(f"SELECT count(*) FROM pg_indexes WHERE tablename = '{table}_p202609'")).scalar()
        assert keys == 2
        assert conn.execute(text("SELECT to_regclass(:k)"), {"k": f"{table}_p202609_kept"}).scalar() is None

    again = run(engine, table, tmp_path, long=400)
    assert (again.dropped, again.kept, again.archived) == ([], {}, [])  # only kept rows are left: nothing to do

    insert(engine, table, "other", "2026-09-30")  # a late event of an organization whose month expired
    late = run(engine, table, tmp_path, long=400)
    assert late.kept == {f"{table}_p202609": 2} and rows(engine, f"{table}_p202609") == [("long", "2026-09-20")] * 2
    assert late.archived[0].name == f"{table}_p202609.2.manifest.json"  # the first archive is not overwritten
    assert archive.Manifest.read(late.archived[0]).rows == 3

    gone = retention.run_retention(
        engine,
        now=datetime(2027, 12, 1, tzinfo=UTC),
        keep_days={table: 60},
        archive_dir=None,
        organizations={table: {"long": 400}},
    )
    assert f"{table}_p202609" in gone.dropped and f"{table}_p202609" not in gone.kept  # 400 days on: gone whole
    assert rows(engine, f"{table}_p202610") == [("long", "2026-10-20")]  # a month younger: kept as it is


def test_an_organization_with_shorter_retention_loses_exactly_its_expired_rows(engine, table, tmp_path):
    insert(engine, table, "short", "2026-10-10", n=2)
    insert(engine, table, "other", "2026-10-10", n=2)
    insert(engine, table, "short", "2026-11-10")  # younger than 30 days' worth of month: kept

    done = run(engine, table, tmp_path, short=30)

    assert done.dropped == [f"{table}_p202609"] and done.purged == {f"{table}_p202610": 2}
    assert rows(engine, table) == [("other", "2026-10-10")] * 2 + [("short", "2026-11-10")]
    manifest = archive.Manifest.read(done.archived[0])
    assert (manifest.rows, manifest.organizations, manifest.partition) == (2, ["short"], f"{table}_p202610")
    restored, count = archive.restore(engine, done.archived[0])
    assert count == 2 and rows(engine, restored) == [("short", "2026-10-10")] * 2
    with engine.begin() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {restored} WHERE note = 'x,\"y\"\nz'")).scalar() == 2

    assert run(engine, table, tmp_path, short=30).purged == {}  # nothing left to delete, nothing archived


def test_a_run_that_crashed_after_detaching_is_finished_and_late_rows_are_kept(engine, table, tmp_path):
    insert(engine, table, "other", "2026-09-10")
    insert(engine, table, "long", "2026-09-20")
    insert(engine, table, "short", "2026-10-10")
    with engine.begin() as conn:  # a run detached September and October and died copying September's kept rows
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {table}_p202609"))
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {table}_p202610"))
        conn.execute(text(f"CREATE TABLE {table}_p202609_kept (LIKE {table})"))
    insert(engine, table, "long", "2026-09-25")  # meanwhile, in the default partition
    insert(engine, table, "other", "2026-10-11")

    done = run(engine, table, None, long=400)

    assert done.kept == {f"{table}_p202609": 2}
    assert rows(engine, f"{table}_p202609") == [("long", "2026-09-20"), ("long", "2026-09-25")]
    # October had not expired: it is attached back whole, with the row that waited in the default partition
    assert rows(engine, f"{table}_p202610") == [("other", "2026-10-11"), ("short", "2026-10-10")]
    assert rows(engine, f"{table}_default") == []
    assert [name for name, *_ in attached(engine, table)] == [
        f"{table}_p202609",
        f"{table}_p202610",
        f"{table}_p202611",
        f"{table}_default",
    ]


@pytest.fixture
def live_schema(services):
    """A freshly migrated database, whose ``user_notifications`` (the live table: its partial index, its
    triggers) gets a partition for August 2026 in place of the empty legacy one."""
    with scratch_database(services.database_url, "herald_orgret") as url:
        upgrade(url)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE user_notifications DETACH PARTITION user_notifications_legacy"))
            conn.execute(text("DROP TABLE user_notifications_legacy"))
            conn.execute(
                text(
                    "CREATE TABLE user_notifications_p202608 PARTITION OF user_notifications "
                    "FOR VALUES FROM ('2026-08-01Z') TO ('2026-09-01Z')"
                )
            )
        yield engine
        engine.dispose()


def shape(engine, relation: str) -> tuple[list[str], list[str]]:
    """The index definitions and the triggers of ``relation``, its own name taken out of both."""
    with engine.begin() as conn:
        indexes = conn.execute(
            text(
                "SELECT regexp_replace(indexdef, 'INDEX \\S+ ON \\S+', 'INDEX ON') FROM pg_indexes WHERE tablename = :r"
            ),
            {"r": relation},
        ).scalars()
        triggers = conn.execute(
            text("SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:r)"), {"r": relation}
        ).scalars()
        return sorted(indexes), sorted(triggers)


def test_a_month_of_the_live_bell_table_swapped_for_its_kept_rows_has_its_indexes_and_triggers(
    live_schema, monkeypatch
):
    engine = live_schema
    monkeypatch.setattr(retention, "PARTITIONED", {"user_notifications": "occurred_at"})
    with engine.begin() as conn:  # a month the migration created
        made = next(
            p.name
            for p in partitions.existing_partitions(conn, "user_notifications")
            if p.lower and p.lower.year > 2026
        )
    expected = shape(engine, made)
    assert expected[0] and expected[1]
    with engine.begin() as conn:
        for organization in ("long", "long", "other"):
            conn.execute(
                text(
                    "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, "
                    "priority, reason, occurred_at) VALUES (gen_random_uuid(), 'u1', :o, gen_random_uuid(), "
                    "'LAB_RESULT', 'HIGH', 'CARE_TEAM', '2026-08-15Z')"
                ),
                {"o": organization},
            )

    done = retention.run_retention(
        engine,
        now=NOW,
        keep_days={"user_notifications": 90},
        archive_dir=None,
        organizations={"user_notifications": {"long": 400}},
    )

    assert done.kept == {"user_notifications_p202608": 2}
    assert shape(engine, "user_notifications_p202608") == expected
    with engine.begin() as conn:  # the unread index answers for the kept month as for any other
        unread = conn.execute(
            text("SELECT count(*) FROM user_notifications WHERE user_id = 'u1' AND read_at IS NULL")
        ).scalar()
        assert unread == 2
