"""The persister's write strategies against real Postgres: each inserts every new event exactly once,
whatever is already in the table, repeated in the batch, or committed by another writer meanwhile."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from sinks.postgres.activity import COLUMNS, ActivityEventSink
from sinks.postgres.activity_rows import event_row
from sinks.postgres.bulk import copy_new_rows
from sinks.postgres.engine import raw_connection
from sinks.postgres.notifications import FanoutWrites, NotificationSink
from streams.messages import ActivityEvent

pytestmark = pytest.mark.integration
AT = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def rows_for(org: str, n: int, title: str = "t") -> list[tuple]:
    return [
        event_row(
            ActivityEvent(
                uuid.uuid4(), "PATIENT_REGISTERED", AT, org, f"{title}{i}", patient_id=f"p{i}", attributes={"k": str(i)}
            )
        )
        for i in range(n)
    ]


def stored(engine, org: str) -> dict:
    with engine.connect() as conn:
        return {
            r.event_id: (r.title, r.attributes)
            for r in conn.execute(
                text("SELECT event_id, title, attributes FROM activity_events WHERE organization_id = :o"), {"o": org}
            )
        }


@pytest.mark.parametrize("strategy", ["copy", "staging", "executemany"])
def test_each_strategy_inserts_new_rows_once_and_keeps_the_first_version(engine, strategy):
    org = f"org-{uuid.uuid4().hex[:8]}"
    sink = ActivityEventSink(engine, strategy)
    old = rows_for(org, 3, "old")
    sink.write(old[:2])
    new = rows_for(org, 4, "new")
    replayed = [r[:11] + ("replayed",) + r[12:] for r in old[:2]]  # same ids, another title
    sink.write(replayed + new + [new[0][:11] + ("dup",) + new[0][12:]] + old[2:])
    got = stored(engine, org)
    assert len(got) == 7
    assert {got[r[0]][0] for r in old} == {"old0", "old1", "old2"}  # the stored rows were not touched
    assert got[new[0][0]] == ("new0", {"k": "0"})  # a key repeated in the batch keeps its first row


def test_copy_new_rows_falls_back_when_another_writer_commits_a_row_meanwhile(engine):
    """The lookup finds nothing; a concurrent transaction then inserts one of the keys: the COPY
    waits on it, fails on the unique index after its commit, and the staging path skips that row."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    rows = rows_for(org, 5)
    other = engine.connect()
    other_tx = other.begin()
    raw_other = raw_connection(other)
    raw_other.cursor().execute(
        "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, "
        "organization_id, title, notify, visibility, attributes, source) VALUES "
        "(%s, 'PATIENT_REGISTERED', 'LOW', %s, %s, 'theirs', false, 'ALL_MEMBERS', '{}', '')",
        (rows[2][0], AT, org),
    )
    inserted: list[int] = []

    def ours() -> None:
        with engine.begin() as conn, raw_connection(conn).cursor() as cur:
            inserted.append(copy_new_rows(cur, "activity_events", COLUMNS, rows, key="event_id", conflict="DO NOTHING"))

    write_behind_their_row(engine, ours, other, other_tx)
    got = stored(engine, org)
    assert len(got) == 5 and got[rows[2][0]][0] == "theirs"
    assert inserted == [4]


@pytest.fixture
def insert_order(engine):
    """Records the order in which rows enter activity_events (a row trigger, dropped afterwards)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS test_insert_order (n bigserial, event_id uuid)"))
        conn.execute(text("TRUNCATE test_insert_order"))
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION test_log_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN INSERT INTO test_insert_order (event_id) VALUES (NEW.event_id); RETURN NULL; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER test_log_insert AFTER INSERT ON activity_events FOR EACH ROW "
                "EXECUTE FUNCTION test_log_insert()"
            )
        )

    def logged() -> list[uuid.UUID]:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT event_id FROM test_insert_order ORDER BY n"))]

    yield logged
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER test_log_insert ON activity_events"))
        conn.execute(text("DROP TABLE test_insert_order"))


@pytest.mark.parametrize("writer", ["copy", "staging", "executemany", "fan-out upsert"])
def test_every_writer_inserts_in_event_id_order_so_the_persister_and_the_fan_out_cannot_deadlock(
    engine, insert_order, writer
):
    """Both write the same event rows at the same time; inserting overlapping keys in different orders
    deadlocked them under load (Postgres broke the cycle after a second by failing a batch). In one
    order, one of them just waits for the other's commit."""
    org = f"org-{uuid.uuid4().hex[:8]}"
    rows = sorted(rows_for(org, 40), key=lambda r: str(r[0]), reverse=True)  # descending: the wrong order
    if writer == "fan-out upsert":
        NotificationSink(engine).write(FanoutWrites(events=rows))
    else:
        ActivityEventSink(engine, writer).write(rows)

    ours = {str(r[0]) for r in rows}
    logged = [str(e) for e in insert_order() if str(e) in ours]
    assert len(logged) == 40
    assert logged == sorted(logged)


def write_behind_their_row(engine, ours, other, other_tx) -> None:
    """Runs ``ours`` (a COPY) in a thread, waits until it is blocked on the other writer's uncommitted
    row, then commits that writer's transaction and waits for ours to finish."""
    writer = threading.Thread(target=ours)
    writer.start()
    with engine.connect() as probe:
        while not probe.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar():
            writer.join(0.01)
            assert writer.is_alive(), "the COPY did not wait on the other writer's row"
    other_tx.commit()
    other.close()
    writer.join(30)
