"""``api.database.Database``: permits bound the units in flight; a queue that is full, or a wait that
would be too long, is refused at once with Saturated (a 503), without running the work."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import create_engine

from api.database import Database, Saturated

NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # sessions open lazily: no connection is made


def _database(**kw) -> Database:
    return Database(create_engine(NOWHERE), **({"permits": 1, "queue_max": 1, "wait_s": 5.0} | kw))


def test_a_full_queue_is_refused_at_once_and_the_queue_drains():
    async def scenario():
        db, release, ran = _database(), threading.Event(), []

        def blocking(*, session):
            release.wait(5)
            ran.append("blocking")

        def quick(*, session):
            ran.append("quick")

        first = asyncio.create_task(db.run(blocking))
        while db.busy == 0:
            await asyncio.sleep(0)
        second = asyncio.create_task(db.run(quick))  # waits: the one permit is taken
        while db.waiting == 0:
            await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(Saturated):
            await db.run(quick)  # the queue (1) is full
        assert loop.time() - started < 0.05
        release.set()
        await asyncio.gather(first, second)
        assert ran == ["blocking", "quick"] and db.busy == 0 and db.waiting == 0

    asyncio.run(scenario())


def test_a_wait_longer_than_wait_s_is_refused_at_once():
    async def scenario():
        db, release = _database(queue_max=100, wait_s=0.5), threading.Event()
        db.hold_s = 1.0  # recent units held their permit for a second

        def blocking(*, session):
            release.wait(5)

        first = asyncio.create_task(db.run(blocking))
        while db.busy == 0:
            await asyncio.sleep(0)
        second = asyncio.create_task(db.run(blocking))
        while db.waiting == 0:
            await asyncio.sleep(0)
        assert db.saturated
        with pytest.raises(Saturated):
            await db.run(blocking)  # 1 waiting x 1 s / 1 permit > 0.5 s
        release.set()
        await asyncio.gather(first, second)

    asyncio.run(scenario())


def test_units_in_flight_never_exceed_the_permits():
    async def scenario():
        db, lock, state = _database(permits=3, queue_max=1000), threading.Lock(), {"now": 0, "max": 0}

        def unit(*, session):
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            threading.Event().wait(0.005)
            with lock:
                state["now"] -= 1

        await asyncio.gather(*(db.run(unit) for _ in range(60)))
        assert state["max"] == 3

    asyncio.run(scenario())
