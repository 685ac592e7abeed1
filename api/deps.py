"""Dependencies of the routes: the database, the authenticated caller, their directory facts,
and the paging parameters shared by the feed, the timeline and the bell."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StringConstraints

from api import queries
from api.auth import AuthError
from api.cursor import CURSOR_PATTERN, InvalidCursor, Position, decode_cursor
from api.database import Database
from api.errors import FieldInvalid
from api.schemas import PRINTABLE_PATTERN
from api.windows import RetentionWindows
from processors.visibility import Viewer, ViewerFacts

_bearer = HTTPBearer(auto_error=False, description="A JWT: sub = user id, org, roles, exp.")
_EVENT_TYPES_MAX = 50
EventType = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE_PATTERN)]


def get_database(request: Request) -> Database:
    return request.app.state.database


DatabaseDep = Annotated[Database, Depends(get_database)]


def get_windows(request: Request) -> RetentionWindows:
    return request.app.state.windows


WindowsDep = Annotated[RetentionWindows, Depends(get_windows)]


_QUERY_NAMES: dict[tuple[str, str], frozenset[str]] = {}


async def known_query_only(request: Request) -> None:
    """A query parameter the route does not declare is a 422, not silently ignored: a typo such as
    ``evnt_type=`` would otherwise return the unfiltered feed, and the document says what is allowed."""
    if not request.query_params:
        return
    key = (request.scope["route"].path, request.method.lower())
    names = _QUERY_NAMES.get(key)
    if names is None:  # the document is the list of what each operation takes
        operation = request.app.openapi()["paths"].get(key[0], {}).get(key[1], {})
        names = _QUERY_NAMES[key] = frozenset(p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")
    unknown = sorted(set(request.query_params) - names)
    if unknown:
        raise FieldInvalid(unknown[0][:64], "unknown query parameter")


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": 'Bearer realm="herald"'})


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Viewer:
    """The caller named by a valid bearer token (401 otherwise; ``api.limits.Gate`` has normally checked
    it already, before the body was read), with the roles the directory grants (``api.directory``).
    403 when the directory says the user is inactive or of another organization (a token that outlived
    its user); a user the directory does not know yet is let through with no role and no care team."""
    viewer = request.scope.get("state", {}).get("token_viewer")
    if viewer is None:
        if credentials is None:
            raise unauthorized("missing bearer token")
        try:
            viewer = request.app.state.verifier.verify(credentials.credentials)
        except AuthError as exc:
            raise unauthorized(str(exc)) from None
    standing = await request.app.state.directory.standing(viewer)
    if standing.member is False:
        raise HTTPException(403, "user is not an active member of this organization")
    request.state.facts = standing.facts
    return standing.viewer


async def viewer_facts(request: Request, viewer: Annotated[Viewer, Depends(current_user)]) -> ViewerFacts:
    """The caller's care-team patients and supervisees (the directory is their authority)."""
    return request.state.facts


CurrentUser = Annotated[Viewer, Depends(current_user)]
Facts = Annotated[ViewerFacts, Depends(viewer_facts)]


# --- paging ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    """A decoded cursor and the page size."""

    after: Position | None
    limit: int


def _position(cursor: str | None) -> Position | None:
    try:
        return decode_cursor(cursor) if cursor else None
    except InvalidCursor as exc:
        raise FieldInvalid("cursor", str(exc)) from None


async def page(
    cursor: Annotated[
        str | None, Query(max_length=50, pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page:
    return Page(_position(cursor), limit)


PageDep = Annotated[Page, Depends(page)]


def _utc(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date-time (naive = UTC). Parsed here, not by pydantic, which would also take a number
    (``until=0.5``) as seconds since the epoch, a form the document does not allow."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise FieldInvalid(name, "not an ISO 8601 date-time, e.g. 2026-03-01T12:00:00Z") from None


DateTimeParam = Annotated[str, StringConstraints(max_length=64)]
_DATE_TIME = {"format": "date-time"}


async def feed_filter(
    page_: PageDep,
    event_type: Annotated[
        list[EventType] | None, Query(description="Repeat to match any of several.", max_length=_EVENT_TYPES_MAX)
    ] = None,
    since: Annotated[
        DateTimeParam | None,
        Query(description="occurred_at >= since (ISO 8601; naive = UTC)", json_schema_extra=_DATE_TIME),
    ] = None,
    until: Annotated[
        DateTimeParam | None, Query(description="occurred_at < until", json_schema_extra=_DATE_TIME)
    ] = None,
    skip: Annotated[int, Query(ge=0, le=10_000, description="Offset after the cursor; prefer the cursor.")] = 0,
) -> queries.FeedFilter:
    """The feed's and the timeline's filters; the page size stays in ``PageDep``."""
    types = tuple(event_type or ())
    if len(types) > _EVENT_TYPES_MAX or any(len(t) > 64 for t in types):
        raise FieldInvalid("event_type", f"at most {_EVENT_TYPES_MAX} values of at most 64 characters")
    return queries.FeedFilter(types, _utc(since, "since"), _utc(until, "until"), page_.after, skip)


FeedFilterDep = Annotated[queries.FeedFilter, Depends(feed_filter)]
