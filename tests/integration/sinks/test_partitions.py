"""Monthly partitions against real Postgres: maintenance creates ahead, moves rows out of the default
partition and drops behind; a duplicate that straddles a month boundary stays one row (an event, a bell
row, a push delivery)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from processors.catalogue import RecipientRule
from processors.notifications.decisions import PushAction
from processors.notifications.ids import notification_id
from processors.notifications.plan import BellNotification
from sinks.postgres import partitions, retention
from sinks.postgres.activity import ActivityEventSink
from sinks.postgres.activity_rows import event_row
from sinks.postgres.notifications import FanoutWrites, NotificationSink
from sinks.postgres.push import DeliveryRow, PushSink, PushWrites
from streams.messages import ActivityEvent, Priority
from tests.integration.scratch import partitioned_table

pytestmark = pytest.mark.integration
UTC = timezone.utc
LAST_INSTANT_OF_JANUARY = datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.fixture
def scratch_table(engine, monkeypatch):
    """A partitioned table of its own, standing in for activity_events (whose partitions other tests use)."""
    table = partitioned_table(
        engine, "test_parts", "id uuid, occurred_at timestamptz NOT NULL, PRIMARY KEY (id, occurred_at)", {}
    )
    for module in (partitions, retention):
        monkeypatch.setattr(module, "PARTITIONED", {table: "occurred_at"})
    yield table
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {table}"))


def names(engine, table: str) -> list[str]:
    with engine.begin() as conn:
        return [p.name for p in partitions.existing_partitions(conn, table)]


def insert_one_a_month(engine, table: str, *months: str) -> None:
    with engine.begin() as conn:
        for month in months:
            conn.execute(text(f"INSERT INTO {table} VALUES (gen_random_uuid(), '{month}-15T00:00:00Z')"))


def test_maintenance_creates_ahead_idempotently_and_retention_drops_behind(engine, scratch_table):
    t = scratch_table
    now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    first = partitions.maintain(engine, now=now, ahead=2)
    assert first.created == [f"{t}_p202612", f"{t}_p202701", f"{t}_p202702"]
    assert partitions.maintain(engine, now=now, ahead=2).created == []
    insert_one_a_month(engine, t, "2026-12", "2027-01", "2027-02")

    # Four months on: April to June are created; keeping 45 days, December and January are wholly older
    # than 2027-02-17 and go; February holds rows younger than that and stays.
    later = datetime(2027, 4, 3, tzinfo=UTC)
    assert partitions.maintain(engine, now=later, ahead=2).created == [f"{t}_p202704", f"{t}_p202705", f"{t}_p202706"]
    dropped = retention.run_retention(engine, now=later, keep_days={t: 45}, archive_dir=None).dropped
    assert dropped == [f"{t}_p202612", f"{t}_p202701"]
    assert names(engine, t) == [f"{t}_p202702", f"{t}_p202704", f"{t}_p202705", f"{t}_p202706", f"{t}_default"]
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() == 1
        assert conn.execute(text("SELECT to_regclass(:p)"), {"p": f"{t}_p202612"}).scalar() is None


def test_retention_removes_exactly_the_expired_partitions_of_each_table(engine, scratch_table, monkeypatch):
    """Two tables with their own retention; the cutoff falls inside a month, which stays whole; the
    default partition (rows no month covers) stays whatever its rows' age."""
    t, bell = scratch_table, f"{scratch_table}_bell"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {bell} (LIKE {t}) PARTITION BY RANGE (occurred_at)"))
    monkeypatch.setattr(retention, "PARTITIONED", {t: "occurred_at", bell: "occurred_at"})
    monkeypatch.setattr(partitions, "PARTITIONED", {t: "occurred_at", bell: "occurred_at"})
    now = datetime(2026, 12, 10, tzinfo=UTC)
    for table in (t, bell):
        for n in range(6, -1, -1):  # June to December
            partitions.maintain(engine, now=partitions.add_months(partitions.month_start(now), -n), ahead=0)
        insert_one_a_month(engine, table, "2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12")
    insert_one_a_month(engine, t, "2020-01")  # in the default partition

    # the feed keeps 100 days (cutoff 2026-09-01: June to August go), the bell 39 (cutoff 2026-11-01, the
    # instant October's partition ends: October goes too)
    done = retention.run_retention(engine, now=now, keep_days={t: 100, bell: 39}, archive_dir=None)
    assert done.dropped == [
        f"{t}_p202606",
        f"{t}_p202607",
        f"{t}_p202608",
        f"{bell}_p202606",
        f"{bell}_p202607",
        f"{bell}_p202608",
        f"{bell}_p202609",
        f"{bell}_p202610",
    ]
    with engine.connect() as conn:
        kept = conn.execute(text(f"SELECT to_char(occurred_at, 'YYYY-MM') FROM {t} ORDER BY 1")).scalars().all()
        kept_bell = conn.execute(text(f"SELECT to_char(occurred_at, 'YYYY-MM') FROM {bell} ORDER BY 1")).scalars().all()
        conn.execute(text(f"DROP TABLE {bell}"))
        conn.commit()
    assert kept == ["2020-01", "2026-09", "2026-10", "2026-11", "2026-12"]
    assert kept_bell == ["2026-11", "2026-12"]
    assert retention.run_retention(engine, now=now, keep_days={t: 100}, archive_dir=None).dropped == []


def test_a_month_created_late_takes_its_rows_over_from_the_default_partition(engine, scratch_table):
    t = scratch_table
    with engine.begin() as conn:  # dated past every partition: caught by the default, the writer never fails
        conn.execute(
            text(f"INSERT INTO {t} SELECT gen_random_uuid(), '2030-05-10T00:00:00Z' FROM generate_series(1, 3)")
        )
        conn.execute(text(f"INSERT INTO {t} VALUES (gen_random_uuid(), '2031-01-01T00:00:00Z')"))
    done = partitions.maintain(engine, now=datetime(2030, 5, 1, tzinfo=UTC), ahead=0)
    assert done.created == [f"{t}_p203005"] and done.moved_from_default == 3
    with engine.connect() as conn:
        where = dict(conn.execute(text(f"SELECT tableoid::regclass::text, count(*) FROM {t} GROUP BY 1")).all())
    assert where == {f"{t}_p203005": 3, f"{t}_default": 1}


def event_at(org: str, at: datetime, title: str = "Registered") -> ActivityEvent:
    return ActivityEvent(uuid.uuid4(), "PATIENT_REGISTERED", at, org, title, patient_id="p1", notify=True)


def count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


@pytest.mark.parametrize("strategy", ["copy", "staging", "executemany"])
def test_a_redelivery_at_the_month_boundary_stays_one_row(engine, strategy):
    """The redelivery carries the event's own occurred_at (the last microsecond of January), so whenever it
    arrives it meets the first copy in the same partition, and the (event_id, occurred_at) key holds."""
    event = event_at(f"org-{uuid.uuid4().hex[:8]}", LAST_INSTANT_OF_JANUARY)
    sink = ActivityEventSink(engine, strategy)
    assert sink.write([event_row(event)]) == []
    assert sink.write([event_row(event), event_row(event)]) == []  # redelivered, twice in one batch
    sql = "SELECT count(*) FROM activity_events WHERE event_id = :e"
    assert count(engine, sql, e=event.event_id) == 1


def test_another_version_dated_in_the_next_month_is_named_and_not_written(engine):
    """The same event_id with a February occurred_at would fit the key as a second row; the persister's
    lookup is by event_id across every partition, so it is a conflicting duplicate, dead-lettered."""
    event = event_at(f"org-{uuid.uuid4().hex[:8]}", LAST_INSTANT_OF_JANUARY)
    sink = ActivityEventSink(engine)
    sink.write([event_row(event)])
    moved = dataclasses.replace(event, occurred_at=LAST_INSTANT_OF_JANUARY + timedelta(microseconds=1))
    assert sink.write([event_row(moved)]) == [0]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT occurred_at FROM activity_events WHERE event_id = :e"), {"e": event.event_id})
        assert [r[0] for r in rows] == [LAST_INSTANT_OF_JANUARY]


def test_a_bell_row_written_again_a_month_later_stays_one_row_in_the_events_month(engine):
    """The bell row's partition key is the event's occurred_at, not created_at: the fan-out redoing the
    batch in February (wall clock) writes into January's partition and finds the row there."""
    event = event_at(f"org-{uuid.uuid4().hex[:8]}", LAST_INSTANT_OF_JANUARY)
    nid = notification_id(event.event_id, "u1")
    bell = BellNotification(nid, "u1", RecipientRule.CARE_TEAM, PushAction.NONE, event, Priority.LOW)
    sink = NotificationSink(engine)
    sink.write(FanoutWrites(events=[event_row(event)], bell=[bell]))
    with engine.begin() as conn:  # as if the first write happened in January and the redo in February
        conn.execute(
            text("UPDATE user_notifications SET created_at = '2027-01-31T23:59:00Z' WHERE notification_id = :n"),
            {"n": nid},
        )
    sink.write(FanoutWrites(events=[event_row(event)], bell=[bell]))
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tableoid::regclass::text, occurred_at FROM user_notifications WHERE notification_id = :n"),
            {"n": nid},
        ).all()
        event_partition = conn.execute(
            text("SELECT tableoid::regclass::text FROM activity_events WHERE event_id = :e"), {"e": event.event_id}
        ).scalar_one()
    assert len(rows) == 1 and rows[0][1] == LAST_INSTANT_OF_JANUARY
    assert rows[0][0] == event_partition.replace("activity_events", "user_notifications")
    assert count(engine, "SELECT count(*) FROM activity_events WHERE event_id = :e", e=event.event_id) == 1


def test_a_push_delivery_recorded_again_a_month_later_stays_one_row(engine):
    """A retried push request carries the request's occurred_at: the sender's upsert finds the first
    attempt's row in the same partition, whatever the wall clock says, and moves it forward."""
    nid, token = uuid.uuid4(), f"tk-{uuid.uuid4().hex}"
    sink = PushSink(engine)
    first = DeliveryRow(nid, token, "u1", "retrying", None, "UNAVAILABLE", 1, LAST_INSTANT_OF_JANUARY)
    sink.write(PushWrites(now=datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), deliveries=[first]))
    again = dataclasses.replace(first, status="sent", fcm_message_id="m1", error_code=None, attempts=2)
    sink.write(PushWrites(now=datetime(2027, 2, 1, 0, 5, tzinfo=UTC), deliveries=[again]))
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, attempts, occurred_at FROM push_deliveries WHERE notification_id = :n"), {"n": nid}
        ).all()
    assert [tuple(r) for r in rows] == [("sent", 2, LAST_INSTANT_OF_JANUARY)]
