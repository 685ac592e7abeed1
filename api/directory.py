"""The directory's word on a caller (standing, care-team patients, supervisees), cached for seconds.

Every ``/v1`` request needs it; reading it costs a round trip and a worker thread, more than the
unread count itself. So it is kept per (user, organization, roles) for ``HERALD_API_DIRECTORY_CACHE_S``
seconds (default 5; 0 turns the cache off): a care-team removal or a deactivation takes effect on
the API within that time, well inside the seconds the directory topic itself takes to arrive.
Used only from the event loop, so it needs no lock; a miss reads the database in the thread pool.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api import queries
from processors.visibility import Viewer, ViewerFacts


@dataclass(frozen=True, slots=True)
class Standing:
    """``member``: True = active in the token's organization, False = inactive or elsewhere, None = unknown."""

    member: bool | None
    facts: ViewerFacts


class DirectoryCache:
    """Built once per app; ``standing`` is awaited by the ``CurrentUser`` dependency."""

    def __init__(self, sessions: sessionmaker[Session], ttl_s: float, max_entries: int = 10_000) -> None:
        self._sessions, self._ttl, self._max = sessions, ttl_s, max_entries
        self._entries: OrderedDict[Viewer, tuple[float, Standing]] = OrderedDict()

    async def standing(self, viewer: Viewer) -> Standing:
        now = time.monotonic()
        hit = self._entries.get(viewer)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = await run_in_threadpool(self._load, viewer)
        if self._ttl > 0:
            self._entries[viewer] = (now + self._ttl, found)
            self._entries.move_to_end(viewer)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return found

    def _load(self, viewer: Viewer) -> Standing:
        with self._sessions() as session:
            member, facts = queries.load_caller(session=session, viewer=viewer)
        return Standing(member, facts)
