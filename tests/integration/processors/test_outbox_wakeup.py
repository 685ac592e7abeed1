"""The relay's sleep gate on a real database: writers notify only while a relay sleeps, a relay never
sleeps past a commit it did not see, and two relays sleep side by side."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from processors.outbox_relay.wakeup import Gate, Wakeup
from streams import outbox
from tests.integration.outbox_db import emr_database_url, libpq_url  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

FIELDS = {"event_type": "LAB_RESULT_RECEIVED", "organization_id": "org-1", "patient_id": "pat-1", "title": "K"}


def listener(url: str) -> psycopg.Connection:
    conn = psycopg.connect(libpq_url(url), autocommit=True)
    conn.execute("LISTEN herald_outbox")
    return conn


def notified(conn: psycopg.Connection, timeout_s: float) -> bool:
    return next(iter(conn.notifies(timeout=timeout_s, stop_after=1)), None) is not None


def write(url: str, isolation: psycopg.IsolationLevel | None = None) -> psycopg.Connection:
    """An open EMR transaction that has inserted one outbox row (commit it to publish)."""
    conn = psycopg.connect(libpq_url(url))
    if isolation is not None:
        conn.isolation_level = isolation
    outbox.emit_activity_event(conn, **FIELDS)
    return conn


def drain(url: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DELETE FROM herald_outbox")


def sleeping(wakeup: Wakeup, timeout_s: float) -> tuple[threading.Thread, list[bool]]:
    woke: list[bool] = []
    thread = threading.Thread(target=lambda: woke.append(wakeup.wait(timeout_s)))
    thread.start()
    return thread, woke


def gate_held(url: str) -> bool:
    """A relay sleeps behind the gate: a writer's try for it shared fails."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return row is not None and row[0] >= 2  # the gate and the sleeper's badge


def test_without_a_sleeping_relay_a_commit_notifies_no_one(emr_database_url):  # noqa: F811
    watch = listener(emr_database_url)
    write(emr_database_url).commit()
    assert not notified(watch, 0.3)
    watch.close()


def test_a_sleeping_relay_is_woken_by_the_next_commit(emr_database_url):  # noqa: F811
    wakeup = Wakeup(libpq_url(emr_database_url), "herald_outbox", threading.Event())
    thread, woke = sleeping(wakeup, 30)
    waited = time.monotonic()
    deadline = waited + 10
    while not gate_held(emr_database_url):
        assert time.monotonic() < deadline, "the relay never closed the gate"
    write(emr_database_url).commit()
    thread.join(10)
    assert woke == [True] and time.monotonic() - waited < 10
    wakeup.close()


def test_rows_committed_before_the_gate_closed_end_the_wait_at_once(emr_database_url):  # noqa: F811
    write(emr_database_url).commit()  # no relay slept: no notification for this one
    wakeup = Wakeup(libpq_url(emr_database_url), "herald_outbox", threading.Event())
    started = time.monotonic()
    assert wakeup.wait(30) is True
    assert time.monotonic() - started < 5
    wakeup.close()


@pytest.mark.parametrize("isolation", [None, psycopg.IsolationLevel.REPEATABLE_READ])
def test_a_writer_in_flight_keeps_the_relay_looking_and_its_commit_is_seen(emr_database_url, isolation):  # noqa: F811
    open_tx = write(emr_database_url, isolation)  # inserted while no relay slept: it will not notify
    wakeup = Wakeup(libpq_url(emr_database_url), "herald_outbox", threading.Event(), busy_s=0.05)
    started = time.monotonic()
    assert wakeup.wait(30) is False  # the gate stays open while the writer is in flight: back after busy_s
    assert time.monotonic() - started < 5
    open_tx.commit()
    assert wakeup.wait(30) is True  # closing the gate now sees the committed row
    wakeup.close()


def test_a_second_relay_sleeps_beside_the_first_and_both_wake(emr_database_url):  # noqa: F811
    first = Wakeup(libpq_url(emr_database_url), "herald_outbox", threading.Event())
    second = Wakeup(libpq_url(emr_database_url), "herald_outbox", threading.Event(), busy_s=0.01)
    t1, woke1 = sleeping(first, 30)
    deadline = time.monotonic() + 10
    while not gate_held(emr_database_url):
        assert time.monotonic() < deadline
    conn = second._listening()
    assert (
        second._gate(conn, closed=False) is Gate.SLEEPER
    )  # not WRITERS: it must not spin at busy_s beside an idle first
    t2, woke2 = sleeping(second, 30)
    write(emr_database_url).commit()
    t1.join(10)
    t2.join(10)
    assert woke1 == [True] and woke2 == [True]
    first.close()
    second.close()


def test_a_woken_relay_opens_the_gate_so_later_commits_do_not_notify(emr_database_url):  # noqa: F811
    wakeup = Wakeup(libpq_url(emr_database_url), "herald_outbox", threading.Event())
    thread, woke = sleeping(wakeup, 30)
    deadline = time.monotonic() + 10
    while not gate_held(emr_database_url):
        assert time.monotonic() < deadline
    watch = listener(emr_database_url)
    write(emr_database_url).commit()
    thread.join(10)
    assert woke == [True] and notified(watch, 5)
    write(emr_database_url).commit()  # the relay is passing now, not sleeping: this commit is not serialized
    assert not notified(watch, 0.3)
    watch.close()
    wakeup.close()
