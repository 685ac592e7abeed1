"""Waking the relay when rows arrive: LISTEN on the outbox's channel, with time as the fallback.

The insert trigger notifies the channel once per statement, delivered when the writer commits. A
notification that arrives while a pass runs waits in the connection and ends the next wait at once, so no
commit is missed between a pass and the wait after it. When the database is gone the listening connection
is dropped and reopened on a later wait; meanwhile (and whenever a notification is lost) the relay still
passes every ``timeout``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from streams.errors import reason_line

log = logging.getLogger("herald.outbox_relay")

SLICE_S = 0.5  # longest a wait goes without looking at the stop event


class Wakeup:
    """``wait(timeout)``: returns on a notification on ``channel``, after ``timeout`` seconds, or soon after
    ``stop`` is set."""

    def __init__(
        self, conninfo: str, channel: str, stop: threading.Event, connect: Callable[..., Any] = psycopg.connect
    ) -> None:
        self._conninfo, self._channel, self._stop, self._connect = conninfo, channel, stop, connect
        self._conn: Any = None

    def wait(self, timeout_s: float) -> bool:
        """True when woken by a notification."""
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
                if next(iter(conn.notifies(timeout=min(left, SLICE_S), stop_after=1)), None) is not None:
                    for _ in conn.notifies(timeout=0.001):  # the rest that queued up: one pass reads them all
                        pass
                    return True
            except psycopg.Error as exc:
                log.warning("outbox: listening connection lost (%s); polling until it is back", reason_line(exc))
                self.close()
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
