"""Waking the relay when rows arrive: LISTEN on the outbox's channel, gated so that writers notify only
while a relay sleeps, with time as the fallback.

``pg_notify`` serializes the commits of notifying transactions (PostgreSQL's notify lock is held from
commit to the WAL flush), which would cap an EMR's outbox writes at one commit per WAL flush. So a relay
sleeps behind a gate (``SLEEP_LOCK_CLASS``, an advisory lock on this wait's connection) and the insert
trigger notifies only when it cannot take the gate shared (streams/outbox_schema.py):

* **Closing the gate** (``pg_try_advisory_lock``) succeeds only when no writer holds it shared, i.e. every
  writer that inserted without notifying has committed or rolled back; the look at the table that follows
  sees their rows, and every later insert notifies. No commit is missed, whatever the writer's isolation
  level: lock state is not a snapshot.
* **Writers in flight** (the gate is held shared): rows are coming; the relay passes at once if some have
  committed already, else looks again after ``busy_s``, and writers go on committing side by side. Under
  steady load a relay therefore passes back to back, and nobody notifies.
* **Another relay sleeps** (it holds the sleeper's badge, ``SLEEPER_LOCK_CLASS``): every listener on the
  channel gets the notifications, so this relay sleeps as well.

A notification that arrives while a pass runs waits in the connection and ends the next wait at once. When
the database is gone the listening connection (and with it the gate) is dropped and reopened on a later
wait; meanwhile the relay passes every ``timeout``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

import psycopg

from streams.errors import reason_line
from streams.outbox_schema import SLEEP_LOCK_CLASS, SLEEPER_LOCK_CLASS, channel, checked_table

log = logging.getLogger("herald.outbox_relay")

SLICE_S = 0.5  # longest a wait goes without looking at the stop event
BUSY_S = 0.01


class Gate(Enum):
    CLOSED = "closed"  # this relay holds the gate and the table is empty: sleep until notified
    ROWS = "rows"  # rows are waiting: pass now
    WRITERS = "writers"  # writers in flight hold the gate open: look again soon
    SLEEPER = "sleeper"  # another relay sleeps behind the gate: sleep too


class Wakeup:
    """``wait(timeout)``: returns on a notification on ``table``'s channel, after ``timeout`` seconds (after
    ``busy_s`` while writers are in flight), or soon after ``stop`` is set."""

    def __init__(
        self,
        conninfo: str,
        table: str,
        stop: threading.Event,
        *,
        busy_s: float = BUSY_S,
        connect: Callable[..., Any] = psycopg.connect,
    ) -> None:
        self._conninfo, self._stop, self._connect, self._busy_s = conninfo, stop, connect, busy_s
        t = checked_table(table)
        self._channel = channel(t)
        gate, badge = f"{SLEEP_LOCK_CLASS}, hashtext('{t}')", f"{SLEEPER_LOCK_CLASS}, hashtext('{t}')"
        self._close_gate = f"SELECT pg_try_advisory_lock({gate})"
        # CASE, not AND: the unlock must run only after a successful try.
        self._badge_free = (
            f"SELECT CASE WHEN pg_try_advisory_lock_shared({badge}) THEN pg_advisory_unlock_shared({badge}) "
            "ELSE false END"
        )
        self._wear_badge, self._open = f"SELECT pg_advisory_lock({badge})", "SELECT pg_advisory_unlock_all()"
        self._oldest = f"SELECT seq FROM {t} ORDER BY seq LIMIT 1"
        self._conn: Any = None

    def wait(self, timeout_s: float) -> bool:
        """True when woken by a notification, or when rows were already waiting."""
        deadline = time.monotonic() + timeout_s
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            conn = self._listening()
            if conn is None:
                self._stop.wait(min(left, SLICE_S))
                continue
            try:
                return self._sleep(conn, deadline)
            except psycopg.Error as exc:  # the connection, or the table not installed yet
                log.warning("outbox: cannot listen (%s); polling until it can", reason_line(exc))
                self.close()
                self._stop.wait(min(deadline - time.monotonic(), SLICE_S))
        return False

    def _sleep(self, conn: Any, deadline: float) -> bool:
        closed = False
        try:
            closed = conn.execute(self._close_gate).fetchone()[0]
            if closed:
                conn.execute(self._wear_badge)  # another relay tests the badge for microseconds only
            gate = self._gate(conn, closed)
            if gate is Gate.ROWS:
                return True
            if gate is Gate.WRITERS:
                deadline = min(deadline, time.monotonic() + self._busy_s)
            return self._notified(conn, deadline)
        finally:
            if closed:
                conn.execute(self._open)

    def _gate(self, conn: Any, closed: bool) -> Gate:
        """Where this relay stands, the gate closed by it or not (then: by whom)."""
        if not closed and not conn.execute(self._badge_free).fetchone()[0]:
            return Gate.SLEEPER
        if conn.execute(self._oldest).fetchone() is not None:
            return Gate.ROWS  # committed already: under load, the next pass starts at once
        return Gate.CLOSED if closed else Gate.WRITERS

    def _notified(self, conn: Any, deadline: float) -> bool:
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if next(iter(conn.notifies(timeout=min(left, SLICE_S), stop_after=1)), None) is not None:
                for _ in conn.notifies(timeout=0.001):  # the rest that queued up: one pass reads them all
                    pass
                return True
        return False

    def _listening(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self._connect(self._conninfo, autocommit=True, connect_timeout=5)
                self._conn.execute(f"LISTEN {self._channel}")
            except psycopg.Error as exc:
                log.debug("outbox: cannot listen yet (%s)", reason_line(exc))
                self.close()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None
