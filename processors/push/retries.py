"""The retry pump: puts due push retries back on the push topic, and prunes stale tokens.

Why a table and not a retry topic (docs/push.md, "Retries"): each retry has its own due time
(backoff with jitter, or FCM's Retry-After, up to minutes). A Kafka retry topic is FIFO, so a consumer
would have to block on its head record until due, or keep one topic per delay tier; a table indexed on
``due_at`` hands out exactly the rows that are due, survives restarts, is shared by replicas
(``FOR UPDATE SKIP LOCKED``), and is written in the same transaction as the batch's deliveries.
The push topic's partitions never wait for a retry.

The pump runs in a thread of the push-sender process. Each tick, in one transaction: lock due rows,
produce them to the push topic, wait for the broker's acknowledgement, delete them, commit. A crash
after the produce and before the commit puts the same request on the topic twice; the sender sends
each (notification, token) once, so that costs nothing. Failure of a tick is logged and retried next tick.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Callable

from processors.push.metrics import PushHooks
from sinks.postgres.push import delete_retries, pending_retries, take_due_retries
from sinks.postgres.tokens import prune_tokens
from streams.deadletter import H_FIRST_FAILED
from streams.errors import ProduceFailed, reason_line
from streams.messages import utcnow

log = logging.getLogger("herald.push.retries")
H_LAST_ERROR = "herald.push.last-error"


class RetryPump:
    """``tick()`` moves due retries; ``start()``/``stop()`` run it every ``poll_s`` in a daemon thread."""

    def __init__(
        self,
        *,
        engine,
        producer,
        topic: str,
        poll_s: float,
        token_max_age: timedelta,
        prune_interval_s: float,
        hooks: PushHooks | None = None,
        clock: Callable = utcnow,
        limit: int = 2000,
    ) -> None:
        self._engine, self._producer, self._topic = engine, producer, topic
        self._poll_s, self._limit, self._clock = poll_s, limit, clock
        self._token_max_age, self._prune_interval_s = token_max_age, prune_interval_s
        self._hooks = hooks or PushHooks()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """Re-publishes the due rows; returns how many. Raises (rolling back) if the broker did not ack."""
        errors: list[str] = []

        def on_delivery(err: object, _msg: object) -> None:
            if err:
                errors.append(str(err))

        with self._engine.begin() as conn:
            rows = take_due_retries(conn, now=self._clock(), limit=self._limit)
            for row in rows:
                headers = [
                    (H_FIRST_FAILED, row.first_failed_at.isoformat().encode()),
                    (H_LAST_ERROR, row.last_error.encode()),
                ]
                self._producer.produce(self._topic, row.value, row.key, headers=headers, on_delivery=on_delivery)
            if rows and (self._producer.flush(30) or errors):
                raise ProduceFailed(f"retries not acknowledged: {errors[:1] or 'flush timed out'}")
            delete_retries(conn, rows)
            pending = pending_retries(conn)
        self._hooks.on_retries_released(len(rows), pending)
        return len(rows)

    def prune(self) -> int:
        """Deletes stale tokens (not seen for the max age) and long-retired ones; returns how many."""
        with self._engine.begin() as conn:
            pruned = prune_tokens(conn, now=self._clock(), max_age=self._token_max_age)
        self._hooks.on_tokens_pruned(pruned)
        return pruned

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="push-retry-pump", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Called at shutdown after the runtime stopped: finishes the tick in hand."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._producer.flush(10)

    def _run(self) -> None:
        next_prune = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self._prune_interval_s
                    self.prune()
                moved = self.tick()
            except Exception as exc:  # a failed tick leaves its rows for the next one
                log.warning("retry pump tick failed (%s: %s); trying again", type(exc).__name__, reason_line(exc))
                moved = 0
            if moved < self._limit:
                self._stop.wait(self._poll_s)
