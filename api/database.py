"""The API's one way to the database: a unit of work holds a connection only while its own statements run.

A request never holds a pooled connection while it waits for anything else (a worker thread, the
directory lookup, response building, a slow client). ``Database.run(work, ...)`` waits on the event
loop, with no thread and no connection, for one of ``pool_size`` permits; only then does it take a
worker thread from a limiter of exactly that size, check out a connection, run ``work(session, ...)``,
commit, and give both back before the route builds its response. Permits = threads = connections, so
a thread never waits for a connection and a connection never waits for a thread: the cycle of a shared
thread pool (threads waiting for connections held by requests that wait for a thread) cannot form.

Waiting for a permit is bounded three ways, and a refused request gets ``Saturated``, a 503 with
``Retry-After`` (``api.errors``): it is refused *at once* when ``queue_max`` requests already wait, or
when the wait it would face (waiters × the recent time a unit holds its permit ÷ permits) exceeds
``wait_s``; and a request that did queue gives up after ``2 × wait_s``. So a burst that the database
can serve in time queues (1,000 requests in flight are answered, none refused), and an overload is
refused in microseconds instead of piling up. ``/readyz`` reports 503 while the expected wait exceeds
half of ``wait_s`` (``saturated``), so a load balancer moves traffic before requests are refused.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import sessionmaker

from api.settings import ApiSettings

T = TypeVar("T")


class Saturated(Exception):
    """Every connection is busy and the wait queue is full, or the wait ran out; a 503."""


def build_api_engine(settings: ApiSettings) -> Engine:
    """Autocommit (a read that must be consistent is one statement; no BEGIN/ROLLBACK round trips) and no
    pre-ping (another round trip per request): after a database restart the first request on each dead
    connection gets a 503 and the pool is replaced. A statement may not run longer than 5 s. No
    overflow: the permits already bound the connections in use, and a checkout that still finds none
    (another user of the engine) fails after a second instead of stalling. Every statement is planned
    with its parameters (no generic plan once psycopg has prepared it): partitions are then pruned while
    planning, which is what lets the feed read its months newest first and stop at the page's end
    (docs/decisions/0250-feed-bounded-by-the-partition-key.md)."""
    return create_engine(
        settings.database_url,
        pool_size=settings.api_db_pool_size,
        max_overflow=0,
        pool_timeout=1,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
        connect_args={
            "connect_timeout": 5,
            "options": "-c statement_timeout=5000 -c plan_cache_mode=force_custom_plan",
        },
    )


class Database:
    """Built once per app from its engine; ``run`` is awaited by the routes and the directory cache."""

    def __init__(self, engine: Engine, *, permits: int, queue_max: int, wait_s: float) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.permits, self.queue_max, self.wait_s = permits, queue_max, wait_s
        self._free = asyncio.Semaphore(permits)
        self._threads: CapacityLimiter | None = None  # made on first use, inside the running event loop
        self.waiting = 0
        self.busy = 0
        self.hold_s = 0.005  # moving average of how long a unit holds its permit; updated on every run

    @classmethod
    def from_settings(cls, settings: ApiSettings, engine: Engine | None = None) -> "Database":
        return cls(
            engine or build_api_engine(settings),
            permits=settings.api_db_pool_size,
            queue_max=settings.api_db_queue_max,
            wait_s=settings.api_db_wait_s,
        )

    def expected_wait_s(self) -> float:
        """How long a request arriving now would wait for a permit, from the queue and recent hold times."""
        return self.waiting * self.hold_s / self.permits

    @property
    def saturated(self) -> bool:
        """True while a new request would wait more than half of ``wait_s``, or the queue is half full."""
        return self.expected_wait_s() > self.wait_s / 2 or self.waiting > self.queue_max // 2

    async def run(self, work: Callable[..., T], /, *, patience_s: float | None = None, **kwargs) -> T:
        """``work(session=..., **kwargs)`` in a worker thread with its own connection, then committed.
        Raises Saturated without running it when no permit comes within ``patience_s`` (default
        ``wait_s``)."""
        patience_s = self.wait_s if patience_s is None else patience_s
        if self.waiting >= self.queue_max or (self.waiting and self.expected_wait_s() > patience_s):
            raise Saturated("all database connections are busy")
        self.waiting += 1
        try:
            async with asyncio.timeout(2 * patience_s):
                await self._free.acquire()
        except TimeoutError:
            raise Saturated("all database connections stayed busy") from None
        finally:
            self.waiting -= 1
        self.busy += 1
        started = time.perf_counter()
        try:
            if self._threads is None:
                self._threads = CapacityLimiter(self.permits)
            return await anyio.to_thread.run_sync(functools.partial(self._unit, work, kwargs), limiter=self._threads)
        finally:
            self.hold_s += (time.perf_counter() - started - self.hold_s) / 32
            self.busy -= 1
            self._free.release()

    def _unit(self, work: Callable[..., T], kwargs: dict) -> T:
        with self.sessions() as session:
            result = work(session=session, **kwargs)
            session.commit()
            return result

    def dispose(self) -> None:
        self.engine.dispose()
