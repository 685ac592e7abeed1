"""The outbox writer on a real Postgres: a row exists if and only if the caller's transaction commits,
through each kind of connection; the install is idempotent; one key's writers serialize until commit."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from cli.outbox import install
from streams import outbox
from streams.errors import InvalidEvent
from streams.messages import ACTIVITY_EVENT, ActivityEvent
from streams.outbox_schema import SLEEP_LOCK_CLASS
from streams.serde import AvroSerde, SchemaStore
from tests.integration.outbox_db import emr_database_url, libpq_url, outbox_rows  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

FIELDS = {"event_type": "LAB_RESULT_RECEIVED", "organization_id": "org-1", "title": "Potassium"}


def catalogue(url: str) -> list:
    """What the install created, as the catalogue describes it: columns, indexes, trigger, function."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, column_name, data_type, is_identity, column_default FROM information_schema.columns "
                "WHERE table_name LIKE 'herald_outbox%' ORDER BY 1, 2"
            )
        ).all()
        rows += conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'herald_outbox%' ORDER BY 1")
        ).all()
        rows += conn.execute(
            text("SELECT tgname, tgtype, tgfoid FROM pg_trigger WHERE tgname = 'herald_outbox_notify'")
        ).all()
        rows += conn.execute(text("SELECT oid, prosrc FROM pg_proc WHERE proname = 'herald_outbox_notify'")).all()
    engine.dispose()
    return rows


def test_install_twice_changes_nothing(emr_database_url):  # noqa: F811
    before = catalogue(emr_database_url)
    assert len([r for r in before if r[0] == "herald_outbox"]) == 9  # the nine columns
    assert any(r[0] == "herald_outbox_seq" for r in before) and any(r[0] == "herald_outbox_notify" for r in before)
    install(emr_database_url)
    assert catalogue(emr_database_url) == before


def test_install_over_an_older_outbox_adds_the_trace_columns_and_gates_the_trigger(emr_database_url):  # noqa: F811
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:  # the outbox as an earlier version installed it, with a row waiting
        conn.execute(text("ALTER TABLE herald_outbox DROP COLUMN traceparent, DROP COLUMN tracestate"))
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION herald_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_notify('herald_outbox', ''); RETURN NULL; END $$"
            )
        )
        conn.execute(
            text(
                "INSERT INTO herald_outbox (id, aggregatetype, aggregateid, type, payload) VALUES (:id, 'p', 'k', 't', '')"
            ),
            {"id": uuid.uuid4()},
        )
    install(emr_database_url)
    with engine.connect() as conn:
        columns = {
            r[0]
            for r in conn.execute(
                text("SELECT column_name FROM information_schema.columns WHERE table_name = 'herald_outbox'")
            )
        }
        source = conn.execute(text("SELECT prosrc FROM pg_proc WHERE proname = 'herald_outbox_notify'")).scalar_one()
        waiting = conn.execute(text("SELECT count(*) FROM herald_outbox")).scalar_one()
    assert {"traceparent", "tracestate"} <= columns and waiting == 1  # the row waiting is kept
    assert "pg_try_advisory_xact_lock_shared" in source
    engine.dispose()


def test_orm_session_commit_writes_one_row_with_the_sdk_bytes(emr_database_url):  # noqa: F811
    engine = create_engine(emr_database_url)
    with Session(engine) as session, session.begin():
        event_id = outbox.emit_activity_event(session, patient_id="pat-1", **FIELDS)
    [row] = outbox_rows(emr_database_url)
    assert (row.id, row.aggregatetype, row.aggregateid, row.type) == (
        event_id,
        "patient",
        "pat-1",
        FIELDS["event_type"],
    )
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    event = ActivityEvent.from_avro(serde.decode(bytes(row.payload)))
    assert event.event_id == event_id and event.patient_id == "pat-1"
    assert bytes(row.payload) == serde.encode(event.to_avro())  # exactly what the SDK would send
    engine.dispose()


def test_orm_session_rollback_writes_nothing(emr_database_url):  # noqa: F811
    engine = create_engine(emr_database_url)
    with Session(engine) as session:
        outbox.emit_activity_event(session, patient_id="pat-1", **FIELDS)
        session.rollback()
    assert outbox_rows(emr_database_url) == []
    engine.dispose()


def test_core_connection_commit_and_rollback(emr_database_url):  # noqa: F811
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:
        kept = outbox.emit_activity_event(conn, **FIELDS)  # no patient: keyed by organization
    with engine.connect() as conn:
        outbox.emit_activity_event(conn, **FIELDS)
        conn.rollback()
    [row] = outbox_rows(emr_database_url)
    assert (row.id, row.aggregatetype, row.aggregateid) == (kept, "organization", "org-1")
    engine.dispose()


def test_psycopg_connection_commit_and_rollback(emr_database_url):  # noqa: F811
    with psycopg.connect(libpq_url(emr_database_url)) as conn:
        kept = outbox.emit_activity_event(conn, patient_id="pat-2", **FIELDS)
        conn.commit()
        outbox.emit_activity_event(conn, patient_id="pat-2", **FIELDS)
        conn.rollback()
    assert [r.id for r in outbox_rows(emr_database_url)] == [kept]


def test_psycopg_autocommit_outside_a_transaction_is_refused(emr_database_url):  # noqa: F811
    with psycopg.connect(libpq_url(emr_database_url), autocommit=True) as conn:
        with pytest.raises(ValueError, match="autocommit"):
            outbox.emit_activity_event(conn, **FIELDS)
        with conn.transaction():
            outbox.emit_activity_event(conn, **FIELDS)
    assert len(outbox_rows(emr_database_url)) == 1


def test_an_invalid_event_raises_at_the_call_and_writes_nothing(emr_database_url):  # noqa: F811
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:
        with pytest.raises(InvalidEvent, match="title"):
            outbox.emit_activity_event(conn, event_type="LAB_RESULT_RECEIVED", organization_id="org-1", title="")
        with pytest.raises(InvalidEvent, match="priority"):
            outbox.emit_activity_event(conn, priority="SOON", **FIELDS)
    assert outbox_rows(emr_database_url) == []
    engine.dispose()


def test_the_same_event_id_twice_is_one_row(emr_database_url):  # noqa: F811
    engine = create_engine(emr_database_url)
    event_id = uuid.uuid4()
    for _ in range(2):
        with engine.begin() as conn:
            outbox.emit_activity_event(conn, event_id=event_id, **FIELDS)
    assert [r.id for r in outbox_rows(emr_database_url)] == [event_id]
    engine.dispose()


def test_a_second_writer_of_one_key_waits_for_the_first_to_commit(emr_database_url):  # noqa: F811
    # Given a transaction that wrote an event for pat-9 and has not committed
    engine = create_engine(emr_database_url)
    first = engine.connect()
    first_id = outbox.emit_activity_event(first, patient_id="pat-9", **FIELDS)
    # and another patient's writer, which does not wait
    with engine.begin() as conn:
        outbox.emit_activity_event(conn, patient_id="pat-other", **FIELDS)

    # When a second transaction writes for pat-9
    done = threading.Event()
    second_id: list[uuid.UUID] = []

    def second() -> None:
        with engine.begin() as conn:
            second_id.append(outbox.emit_activity_event(conn, patient_id="pat-9", **FIELDS))
        done.set()

    thread = threading.Thread(target=second)
    thread.start()

    # Then it waits on the writer's advisory lock until the first commits, and its row comes after
    assert wait_for_lock_waiter(engine), "the second writer did not wait on the key's lock"
    assert not done.is_set()
    first.commit()
    first.close()
    thread.join(10)
    assert done.is_set()
    rows = [r for r in outbox_rows(emr_database_url) if r.aggregateid == "pat-9"]
    assert [r.id for r in rows] == [first_id, second_id[0]]
    engine.dispose()


def wait_for_lock_waiter(engine, timeout: float = 10.0) -> bool:
    from cli.processes import wait_until

    def waiting() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                ).scalar()
            )

    try:
        wait_until(waiting, timeout, interval=0.05, what="a waiting advisory lock")
        return True
    except TimeoutError:
        return False


def test_a_committed_insert_notifies_a_sleeping_relays_channel(emr_database_url):  # noqa: F811
    with psycopg.connect(libpq_url(emr_database_url), autocommit=True) as listener:
        listener.execute("LISTEN herald_outbox")
        # as a relay does before it sleeps (processors/outbox_relay/wakeup.py): writers notify only then
        listener.execute(f"SELECT pg_advisory_lock({SLEEP_LOCK_CLASS}, hashtext('herald_outbox'))")
        engine = create_engine(emr_database_url)
        with engine.connect() as conn:  # rolled back: no notification
            outbox.emit_activity_event(conn, **FIELDS)
            conn.rollback()
        assert [n.channel for n in listener.notifies(timeout=0.5, stop_after=1)] == []
        with engine.begin() as conn:
            outbox.emit_activity_event(conn, **FIELDS)
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == ["herald_outbox"]
        engine.dispose()
