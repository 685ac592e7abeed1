"""The relay's wait: a notification ends it, time ends it, stop ends it, and a lost connection falls back
to polling."""

from __future__ import annotations

import threading
import time

import psycopg

from processors.outbox_relay.wakeup import Wakeup


class FakeConnection:
    def __init__(self, notes: list[str]) -> None:
        self.notes, self.executed, self.closed = notes, [], False

    def execute(self, sql):
        self.executed.append(sql)

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
    assert conn.executed == ["LISTEN herald_outbox"] and conn.notes == []  # the queued ones are read too


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
