"""The feed, a patient's timeline, the bell and the unread count read only the months they need.

EXPLAIN (ANALYZE, FORMAT JSON) of the very statement each query function (or route) ran, on a database
of its own whose feed and bell have a partition for each of the last five months, with rows in the last
three and in the oldest, which is older than the bell's default retention (the session's database keeps
everything before next month in one legacy partition, so months cannot be told apart there). A
partition counts as read when one of its scans ran; a scan that was "never executed" (an ordered
Append whose LIMIT was met before it, or a join's probe into a month none of its rows is in) or a
partition pruned away does not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api import queries
from api.auth import issue_token
from api.cursor import Position
from api.database import build_api_engine
from api.main import create_app
from api.settings import DEV_JWT_SECRET, ApiSettings
from api.windows import RetentionWindows
from cli.devstack.databases import drop_database
from processors.visibility import Viewer, ViewerFacts
from sinks.postgres.migrate import upgrade
from sinks.postgres.partitions import add_months, existing_partitions, month_start, partition_name
from sinks.postgres.settings import DataLifecycleSettings, OrganizationRetention

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)
THIS_MONTH = month_start(NOW)
# The oldest month is more than 90 days back (the bell's default retention) wherever today is in its month.
OLD = add_months(THIS_MONTH, -4)
MONTHS = [OLD, add_months(THIS_MONTH, -2), add_months(THIS_MONTH, -1), THIS_MONTH]
ORG = f"org-{uuid.uuid4().hex[:12]}"
DOCTOR, PATIENT = f"{ORG}-doctor", f"{ORG}-patient"
IN_THIS_MONTH = 70  # more than a page of 50
UNSEEN_PER_OLDER_MONTH = 3_000


def monthly_partitions(engine: Engine, table: str, first: datetime) -> None:
    """The empty legacy partition shrunk to before ``first``, and a partition per month from it up to
    the months the migration created: the shape of a database converted months ago."""
    with engine.begin() as conn:
        created = [p.lower for p in existing_partitions(conn, table) if p.lower is not None and not p.default]
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {table}_legacy"))
        conn.execute(text(f"DROP TABLE {table}_legacy"))
        conn.execute(
            text(
                f"CREATE TABLE {table}_legacy PARTITION OF {table} FOR VALUES FROM (MINVALUE) TO ('{first.isoformat()}')"
            )
        )
        month = first
        while month < min(created):
            upper = add_months(month, 1)
            conn.execute(
                text(
                    f"CREATE TABLE {partition_name(table, month)} PARTITION OF {table} "
                    f"FOR VALUES FROM ('{month.isoformat()}') TO ('{upper.isoformat()}')"
                )
            )
            month = upper


def times() -> list[datetime]:
    """Ten events in each of the three older months, IN_THIS_MONTH in this one (all before now)."""
    older = [m + timedelta(days=1, hours=i) for m in MONTHS[:3] for i in range(10)]
    return older + [THIS_MONTH + timedelta(seconds=10 * i) for i in range(IN_THIS_MONTH)]


@pytest.fixture(scope="module")
def engine(services) -> Iterator[Engine]:
    """The API's own engine (its connection options decide the plans) on a database with three months."""
    name = f"herald_prune_{uuid.uuid4().hex[:8]}"
    admin = create_engine(services.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(services.database_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    api_engine = build_api_engine(ApiSettings(env="dev", database_url=url))
    for table in ("activity_events", "user_notifications"):
        monthly_partitions(api_engine, table, MONTHS[0])
    with api_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, "
                "patient_id, title, notify, visibility) "
                "SELECT gen_random_uuid(), 'LAB_RESULT_RECEIVED', 'NORMAL', at, :org, :patient, 'Lab result', "
                "true, 'all_members' FROM unnest(CAST(:times AS timestamptz[])) AS at"
            ),
            {"org": ORG, "patient": PATIENT, "times": times()},
        )
        # Events the doctor may not see (another user's, actor-and-supervisors only) in the older months: an
        # organization's table is large, so the planner joins a page of bell rows to their events by index
        # probes, as it does at any real size, rather than by hashing every event of the organization.
        conn.execute(
            text(
                "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, "
                "actor_user_id, title, notify, visibility) "
                "SELECT gen_random_uuid(), 'TASK_ASSIGNED', 'NORMAL', month + interval '10 days' + i * interval "
                "'1 second', :org, :actor, 'Task', false, 'actor_and_supervisors' "
                "FROM unnest(CAST(:months AS timestamptz[])) AS month, generate_series(1, :n) AS i"
            ),
            {"org": ORG, "actor": f"{ORG}-someone-else", "months": MONTHS[:-1], "n": UNSEEN_PER_OLDER_MONTH},
        )
        conn.execute(
            text(
                "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, "
                "priority, reason, patient_id, occurred_at, created_at) "
                "SELECT gen_random_uuid(), :doctor, organization_id, event_id, event_type, priority, 'care_team', "
                "patient_id, occurred_at, occurred_at FROM activity_events WHERE patient_id = :patient"
            ),
            {"doctor": DOCTOR, "patient": PATIENT},
        )
    with api_engine.connect() as conn:
        conn.execute(text("ANALYZE activity_events"))
        conn.execute(text("ANALYZE user_notifications"))
    yield api_engine
    api_engine.dispose()
    drop_database(admin, name)
    admin.dispose()


VIEWER = Viewer(DOCTOR, ORG, frozenset({"physician"}))
FACTS = ViewerFacts(frozenset({PATIENT}), frozenset())


def partitions_read(engine: Engine, run) -> dict[str, set[str]]:
    """``run(session)`` once, then EXPLAIN ANALYZE of the last statement it executed with the same
    parameters: per table, the partitions of which a scan ran."""

    def act() -> None:
        with Session(engine) as session:
            run(session)

    return read_by_last_statement(engine, act)


def read_by_last_statement(engine: Engine, act) -> dict[str, set[str]]:
    """``act()`` once, then EXPLAIN ANALYZE of the last statement it executed on ``engine``."""
    seen: list[tuple[str, dict]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        act()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = seen[-1]
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).scalar_one()
    read: dict[str, set[str]] = {}

    def walk(node: dict) -> None:
        relation = node.get("Relation Name")
        if relation and node.get("Actual Loops", 0) > 0:
            for table in ("activity_events", "user_notifications"):
                if relation.startswith(table + "_"):
                    read.setdefault(table, set()).add(relation)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return read


def month(table: str, index: int) -> str:
    return partition_name(table, MONTHS[index])


def older_than(table: str, first: datetime) -> set[str]:
    """The partitions of ``table`` wholly before the month of ``first``, the legacy one included."""
    return {f"{table}_legacy"} | {partition_name(table, m) for m in MONTHS if m < month_start(first)}


def test_the_feeds_first_page_reads_only_the_newest_month(engine):
    def run(session):
        rows = queries.select_feed(session=session, viewer=VIEWER, facts=FACTS, flt=queries.FeedFilter(), limit=51)
        assert len(rows) == 51 and all(r.occurred_at >= THIS_MONTH for r in rows)

    assert partitions_read(engine, run) == {"activity_events": {month("activity_events", -1)}}


def test_a_feed_cursor_prunes_the_newer_months_and_stops_in_its_own(engine):
    with engine.connect() as conn:
        at, event_id = conn.execute(
            text(
                "SELECT occurred_at, event_id FROM activity_events WHERE organization_id = :o "
                "AND occurred_at < :m ORDER BY occurred_at DESC LIMIT 1 OFFSET 2"
            ),
            {"o": ORG, "m": THIS_MONTH},
        ).one()
    flt = queries.FeedFilter(after=Position(at, event_id))

    def run(session):
        rows = queries.select_feed(session=session, viewer=VIEWER, facts=FACTS, flt=flt, limit=5)
        assert len(rows) == 5 and all(r.occurred_at < at for r in rows)

    assert partitions_read(engine, run) == {"activity_events": {month("activity_events", -2)}}


def test_a_patients_timeline_reads_only_the_newest_month(engine):
    def run(session):
        rows = queries.select_timeline(
            session=session, viewer=VIEWER, facts=FACTS, flt=queries.FeedFilter(), limit=11, patient_id=PATIENT
        )
        assert rows is not None and len(rows) == 11

    assert partitions_read(engine, run) == {"activity_events": {month("activity_events", -1)}}


def test_a_far_back_feed_scan_stops_at_the_organizations_feed_retention(engine):
    """A filter nothing matches reads every month it may; the organization's retention ends the scan."""
    kept_since = add_months(THIS_MONTH, -2) + timedelta(days=1)  # the older months lie wholly before it
    flt = queries.FeedFilter(event_types=("NO_SUCH_TYPE",))

    def unbounded(session):
        assert queries.select_feed(session=session, viewer=VIEWER, facts=FACTS, flt=flt, limit=5) == []

    def bounded(session):
        assert (
            queries.select_feed(session=session, viewer=VIEWER, facts=FACTS, flt=flt, limit=5, kept_since=kept_since)
            == []
        )

    assert month("activity_events", 0) in partitions_read(engine, unbounded)["activity_events"]
    read = partitions_read(engine, bounded)["activity_events"]
    assert read and not read & older_than("activity_events", kept_since)


def test_the_bell_page_joins_only_the_months_of_its_entries(engine):
    """Each bell row carries its event's occurred_at: the join probes that month, not every month."""

    def page(session):
        rows, _ = queries.select_notifications(
            session=session, viewer=VIEWER, facts=FACTS, unread_only=False, after=None, limit=51
        )
        assert len(rows) == 51 and all(r.occurred_at >= THIS_MONTH and r.event_title for r in rows)

    assert partitions_read(engine, page)["activity_events"] == {month("activity_events", -1)}


def test_the_bell_and_its_unread_count_skip_the_months_before_the_window(engine):
    window = MONTHS[-2] + timedelta(days=1)  # the older months lie wholly before it

    def page(session):
        rows, unread = queries.select_notifications(
            session=session, viewer=VIEWER, facts=FACTS, unread_only=True, after=None, limit=51, bell_since=window
        )
        assert len(rows) == 51 and unread == IN_THIS_MONTH + 10

    def count(session):
        assert queries.count_unread(session=session, viewer=VIEWER, bell_since=window) == IN_THIS_MONTH + 10

    for run in (page, count):
        read = partitions_read(engine, run)
        assert read["user_notifications"] and not read["user_notifications"] & older_than("user_notifications", window)
        assert not read.get("activity_events", set()) & older_than("activity_events", window)


def route_reads(engine: Engine, path: str, retention: DataLifecycleSettings) -> dict[str, set[str]]:
    """The partitions read by the last statement of ``GET path`` on an app built with default API
    settings (no HERALD_API_BELL_WINDOW_DAYS) and ``retention``, called as the doctor."""
    url = engine.url.render_as_string(hide_password=False)
    app = create_app(ApiSettings(env="dev", database_url=url), engine=engine, retention=retention)
    headers = {"Authorization": "Bearer " + issue_token(DEV_JWT_SECRET, user_id=DOCTOR, organization_id=ORG, roles=[])}
    with TestClient(app) as client:
        return read_by_last_statement(engine, lambda: client.get(path, headers=headers).raise_for_status())


def test_by_default_the_bell_and_its_unread_count_skip_the_months_retention_has_expired(engine):
    defaults = DataLifecycleSettings()
    since = RetentionWindows.from_settings(ApiSettings(env="dev"), defaults).bell_since(ORG)
    assert since is not None and since > add_months(OLD, 1)  # the oldest month lies wholly before the window
    for path in ("/v1/notifications?unread=true", "/v1/notifications/unread-count"):
        read = route_reads(engine, path, defaults)
        assert read["user_notifications"] and not read["user_notifications"] & older_than("user_notifications", since)


def test_an_organization_keeping_its_bell_longer_reads_and_counts_its_older_months(engine):
    longer = DataLifecycleSettings(retention_organizations={ORG: OrganizationRetention(bell_days=400)})
    assert (
        month("user_notifications", 0)
        in route_reads(engine, "/v1/notifications/unread-count", longer)["user_notifications"]
    )
    with Session(engine) as session:
        since = RetentionWindows.from_settings(ApiSettings(env="dev"), longer).bell_since(ORG)
        assert queries.count_unread(session=session, viewer=VIEWER, bell_since=since) == IN_THIS_MONTH + 30
