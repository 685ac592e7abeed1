"""The directory's word on a caller (standing, roles, care-team patients, supervisees), cached for seconds.

Every ``/v1`` request needs it; reading it costs a round trip, more than the unread count itself. So
it is kept per (user, organization, token roles) for ``HERALD_API_DIRECTORY_CACHE_S`` seconds (default
5; 0 turns the cache off): a care-team removal, a role change or a deactivation takes effect on the
API within that time, well inside the seconds the directory topic itself takes to arrive.

Roles: the API acts on the token's roles *narrowed* to the directory's (``effective_roles``). The
identity provider may issue a token with fewer roles than the user holds (a scoped session), never
more: a token claiming ``admin`` for a front-desk user acts as front desk. A user the directory does
not know (yet) acts with no role at all.

Used only from the event loop, so it needs no lock; a miss reads the database through ``Database.run``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass

from api import queries
from api.database import Database
from processors.visibility import Viewer, ViewerFacts


@dataclass(frozen=True, slots=True)
class Standing:
    """``member``: True = active in the token's organization, False = inactive or elsewhere, None = unknown.
    ``viewer``: the caller with the roles the API acts on."""

    member: bool | None
    viewer: Viewer
    facts: ViewerFacts


def effective_roles(token_roles: frozenset[str], directory_roles: frozenset[str]) -> frozenset[str]:
    """The token may only narrow what the directory grants."""
    return token_roles & directory_roles


class DirectoryCache:
    """Built once per app; ``standing`` is awaited by the ``CurrentUser`` dependency."""

    def __init__(self, database: Database, ttl_s: float, max_entries: int = 10_000) -> None:
        self._database, self._ttl, self._max = database, ttl_s, max_entries
        self._entries: OrderedDict[Viewer, tuple[float, Standing]] = OrderedDict()

    async def standing(self, viewer: Viewer) -> Standing:
        now = time.monotonic()
        hit = self._entries.get(viewer)
        if hit is not None and hit[0] > now:
            return hit[1]
        member, roles, facts = await self._database.run(queries.load_caller, viewer=viewer)
        found = Standing(member, dataclasses.replace(viewer, roles=effective_roles(viewer.roles, roles)), facts)
        if self._ttl > 0:
            self._entries[viewer] = (now + self._ttl, found)
            self._entries.move_to_end(viewer)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return found
