"""The relay's wait: a notification ends it, time ends it, stop ends it, writers in flight shorten it, the
gate is opened after it, and a lost connection falls back to polling. (The gate's locks on a real
database: tests/integration/processors/test_outbox_wakeup.py.)"""

from __future__ import annotations

import threading
import time

import psycopg

from processors.outbox_relay.wakeup import Wakeup


class Result:
    def __init__(self, row) -> None:
        self.row = row

    def fetchone(self):
        return self.row


class FakeConnection:
    """Answers the gate's statements: ``gate`` (could it be closed), ``badge_free`` (no relay sleeps),
    ``rows`` (the table has rows)."""

    def __init__(self, notes: list[str], gate: bool = True, badge_free: bool = True, rows: bool = False) -> None:
        self.notes, self.executed, self.closed = notes, [], False
        self.answers = {"pg_try_advisory_lock(": gate, "CASE WHEN": badge_free}
        self.rows = rows

    def execute(self, sql):
        self.executed.append(sql)
        if "ORDER BY seq" in sql:
            return Result((1,) if self.rows else None)
        for marker, answer in self.answers.items():
            if marker in sql:
                return Result((answer,))
        return Result((None,))

    def notifies(self, timeout=None, stop_after=None):
        if not self.notes and timeout:
            time.sleep(min(timeout, 0.05))
        while self.notes:
            yield self.notes.pop(0)
            if stop_after:
                return

    def close(self):
        self.closed = True


def test_a_notification_ends_the_wait_and_listens_on_the_channel():
    conn = FakeConnection(["n1", "n2", "n3"])
    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), connect=lambda *a, **k: conn)
    assert wakeup.wait(5) is True
    assert conn.executed[0] == "LISTEN herald_outbox" and conn.notes == []  # the queued ones are read too
    assert conn.executed[-1] == "SELECT pg_advisory_unlock_all()"  # awake: writers stop notifying


def test_rows_waiting_when_the_gate_closes_end_the_wait_at_once():
    conn = FakeConnection([], rows=True)
    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), connect=lambda *a, **k: conn)
    started = time.monotonic()
    assert wakeup.wait(5) is True
    assert time.monotonic() - started < 0.5
    assert conn.executed[-1] == "SELECT pg_advisory_unlock_all()"


def test_writers_in_flight_end_the_wait_after_busy_s_and_take_no_lock():
    conn = FakeConnection([], gate=False, badge_free=True)
    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), busy_s=0.02, connect=lambda *a, **k: conn)
    started = time.monotonic()
    assert wakeup.wait(5) is False
    assert time.monotonic() - started < 1.0
    assert not any("unlock_all" in sql or "pg_advisory_lock(" in sql for sql in conn.executed)


def test_writers_in_flight_with_rows_committed_already_end_the_wait_at_once():
    conn = FakeConnection([], gate=False, badge_free=True, rows=True)
    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), busy_s=5, connect=lambda *a, **k: conn)
    started = time.monotonic()
    assert wakeup.wait(10) is True
    assert time.monotonic() - started < 1.0


def test_beside_a_sleeping_relay_it_sleeps_the_whole_timeout():
    conn = FakeConnection([], gate=False, badge_free=False)
    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), busy_s=0.01, connect=lambda *a, **k: conn)
    started = time.monotonic()
    assert wakeup.wait(0.3) is False
    assert time.monotonic() - started >= 0.25


def test_without_notifications_the_wait_ends_after_the_timeout():
    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), connect=lambda *a, **k: FakeConnection([]))
    started = time.monotonic()
    assert wakeup.wait(0.2) is False
    assert 0.15 < time.monotonic() - started < 1.0


def test_stop_ends_the_wait():
    stop = threading.Event()
    stop.set()
    wakeup = Wakeup("dsn", "herald_outbox", stop, connect=lambda *a, **k: FakeConnection([]))
    started = time.monotonic()
    assert wakeup.wait(30) is False
    assert time.monotonic() - started < 0.5


def test_a_database_that_refuses_connections_makes_it_poll_and_reconnect_later():
    attempts = []

    def connect(*args, **kwargs):
        attempts.append(1)
        if len(attempts) < 3:
            raise psycopg.OperationalError("connection refused")
        return FakeConnection(["n"])

    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), connect=connect)
    assert wakeup.wait(0.1) is False  # polled: the timeout ended it
    assert wakeup.wait(3.0) is True  # tried again every half second until it could listen
    assert len(attempts) == 3


def test_a_connection_lost_while_waiting_is_dropped():
    class Broken(FakeConnection):
        def notifies(self, timeout=None, stop_after=None):
            raise psycopg.OperationalError("server closed the connection")
            yield

    conn = Broken([])
    wakeup = Wakeup("dsn", "herald_outbox", threading.Event(), connect=lambda *a, **k: conn)
    assert wakeup.wait(0.2) is False
    assert conn.closed
