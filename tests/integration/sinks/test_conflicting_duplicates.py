"""Conflicting duplicates against real Postgres: the persister's sink keeps the first version and names the
rows that differ; a redelivery is none; the fan-out's upsert refuses to mark another version's row."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from processors.catalogue import RecipientRule
from processors.notifications.decisions import PushAction
from processors.notifications.plan import BellNotification
from sinks.postgres.activity import COLUMNS, ActivityEventSink, ConflictingDuplicates, row_content
from sinks.postgres.activity_rows import event_row
from sinks.postgres.bulk import copy_new_rows_checked
from sinks.postgres.engine import raw_connection
from sinks.postgres.notifications import FanoutWrites, NotificationSink
from streams.messages import ActivityEvent, Priority
from tests.integration.sinks.test_activity_sink import rows_for, stored, write_behind_their_row

pytestmark = pytest.mark.integration
AT = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def retitled(row: tuple, title: str) -> tuple:
    return row[:11] + (title,) + row[12:]


@pytest.mark.parametrize("strategy", ["copy", "staging", "executemany"])
def test_each_strategy_names_the_conflicting_rows_and_keeps_the_first_versions(engine, strategy):
    org = f"org-{uuid.uuid4().hex[:8]}"
    sink = ActivityEventSink(engine, strategy)
    old = rows_for(org, 3, "old")
    assert sink.write(old) == []
    new = rows_for(org, 2, "new")
    batch = [
        old[0],  # 0: redelivered as it is: no conflict
        retitled(old[1], "changed"),  # 1: another version of a stored event
        new[0],  # 2: new
        retitled(new[0], "second"),  # 3: another version of an event earlier in the batch
        new[0],  # 4: the same event again in the batch: no conflict
        new[1],
    ]  # 5: new

    conflicts = sink.write(batch)

    assert conflicts == [1, 3]
    got = stored(engine, org)
    assert {got[r[0]][0] for r in old} == {"old0", "old1", "old2"} and got[new[0][0]][0] == "new0" and len(got) == 5


def test_a_stored_row_reads_back_with_the_content_it_was_written_with(engine):
    org = f"org-{uuid.uuid4().hex[:8]}"
    row = event_row(
        ActivityEvent(
            uuid.uuid4(),
            "LAB_RESULT_RECEIVED",
            AT,
            org,
            "Résultat ✓",
            patient_id="p",
            description="d\nx",
            notify=True,
            attributes={"b": "2", "a": "1"},
            source="lab",
        )
    )
    ActivityEventSink(engine).write([row])

    with engine.connect() as conn:
        conn.execute(text("SET TIME ZONE 'America/New_York'"))
        back = raw_connection(conn).cursor()
        back.execute(f"SELECT {', '.join(COLUMNS)} FROM activity_events WHERE event_id = %s", (row[0],))
        (read,) = back.fetchall()

    assert row_content(read) == row_content(row)


def test_a_row_committed_by_another_writer_during_the_copy_is_compared_after_the_fallback(engine):
    org = f"org-{uuid.uuid4().hex[:8]}"
    rows = rows_for(org, 4)
    theirs = retitled(rows[2], "theirs")
    other = engine.connect()
    other_tx = other.begin()
    ActivityEventSink._copy_new(raw_connection(other).cursor(), [theirs])  # uncommitted yet
    found: list = []

    def ours() -> None:
        with engine.begin() as conn, raw_connection(conn).cursor() as cur:
            found.append(
                copy_new_rows_checked(
                    cur,
                    "activity_events",
                    COLUMNS,
                    rows,
                    key="event_id",
                    conflict="DO NOTHING",
                    content=row_content,
                )
            )

    write_behind_their_row(engine, ours, other, other_tx)

    assert found == [[2]] and stored(engine, org)[rows[2][0]][0] == "theirs"


def test_the_fan_out_upsert_refuses_to_mark_another_versions_row_and_writes_nothing(engine):
    org = f"org-{uuid.uuid4().hex[:8]}"
    first, other = rows_for(org, 2)
    ActivityEventSink(engine).write([first])
    event = ActivityEvent(
        event_id=first[0],
        event_type="PATIENT_REGISTERED",
        occurred_at=AT,
        organization_id=org,
        title="Registered",
        notify=True,
    )
    bell = BellNotification(uuid.uuid4(), "u1", RecipientRule.CARE_TEAM, PushAction.NONE, event, Priority.LOW)

    with pytest.raises(ConflictingDuplicates) as raised:
        NotificationSink(engine).write(FanoutWrites(events=[retitled(first, "v2"), other], bell=[bell]))

    assert raised.value.event_ids == [first[0]]
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM user_notifications WHERE notification_id = :n"), {"n": bell.notification_id}
            ).scalar()
            == 0
        )
        assert (
            conn.execute(
                text("SELECT notification_sent_at FROM activity_events WHERE event_id = :e"), {"e": first[0]}
            ).scalar()
            is None
        )
    NotificationSink(engine).write(FanoutWrites(events=[first, other], bell=[bell]))  # the same version: marked
    with engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM activity_events WHERE event_id = ANY(:ids) "
                    "AND notification_sent_at IS NOT NULL"
                ),
                {"ids": [first[0], other[0]]},
            ).scalar()
            == 2
        )
