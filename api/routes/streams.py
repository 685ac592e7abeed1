"""``GET /v1/notifications/stream`` and ``GET /v1/feed/stream``: live updates as server-sent events.

Authenticated like every call (the bearer header; a browser calls it with fetch(), not EventSource).
The stream ends at the token's ``exp``: the client reconnects with a fresh token and its Last-Event-ID.
Heartbeats are SSE comments every ``HERALD_API_STREAM_HEARTBEAT_S``. The events come from the process's
``api.live.hub.LiveHub``; this module only turns its queue into the response.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Annotated

import jwt
from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import CurrentUser, Facts
from api.live.hub import LiveHub, Outgoing, Stream

router = APIRouter(tags=["live"])
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)]


@router.get("/v1/notifications/stream", include_in_schema=False)
async def notifications_stream(
    request: Request, viewer: CurrentUser, facts: Facts, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """``notification``, ``notification-updated``, ``unread-count`` (on connect and on change), ``reset``."""
    return _respond(request, Stream(False, viewer, facts, last_event_id, _queue(request)))


@router.get("/v1/feed/stream", include_in_schema=False)
async def feed_stream(
    request: Request, viewer: CurrentUser, facts: Facts, last_event_id: LastEventId = None
) -> EventSourceResponse:
    """``feed-item`` for each new event the caller may see (the feed's rules), and ``reset``."""
    return _respond(request, Stream(True, viewer, facts, last_event_id, _queue(request)))


def _queue(request: Request) -> asyncio.Queue[Outgoing]:
    return asyncio.Queue(maxsize=request.app.state.settings.api_stream_queue_max)


def _expiry(request: Request) -> float:
    """The token's exp (the gate verified the token; this only reads the claim)."""
    token = request.headers["authorization"].partition(" ")[2].strip()
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


def _respond(request: Request, stream: Stream) -> EventSourceResponse:
    settings = request.app.state.settings
    return EventSourceResponse(
        _events(request, stream, _expiry(request)),
        ping=settings.api_stream_heartbeat_s,
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
        send_timeout=settings.api_stream_send_timeout_s,
        sep="\n",
    )


async def _events(request: Request, stream: Stream, expires_at: float) -> AsyncIterator[ServerSentEvent]:
    hub: LiveHub = request.app.state.live
    directory = request.app.state.directory
    token_viewer = request.scope["state"]["token_viewer"]
    # Each stream re-reads its caller's standing on its own period, started at a random offset: on the REST
    # cache's 5 s, 2,000 streams made 400 queries a second in the request pool, whose threads starved the
    # event loop that writes the streams (bench/live.py: p99 0.6-2.9 s, against 33-140 ms at 300 s).
    refresh_s = request.app.state.settings.api_stream_recheck_s
    refresh_at = time.monotonic() + random.uniform(0.5, 1.0) * refresh_s
    hub.subscribe(stream)
    try:
        while True:
            if stream.reset is not None:
                yield _sse("reset", {"reason": stream.reset}, stream.offered)
                return
            left = expires_at - time.time()
            if left <= 0:
                return  # the token expired: the client reconnects with a new one
            if time.monotonic() >= refresh_at:  # care teams, supervisees, roles, deactivation
                refresh_at = time.monotonic() + refresh_s
                try:
                    standing = await directory.standing(token_viewer)
                except Exception:  # the database is busy or away: keep the facts, try again next period
                    standing = None
                if standing is not None and standing.member is False:
                    return
                if standing is not None:
                    stream.viewer, stream.facts = standing.viewer, standing.facts
            try:
                async with asyncio.timeout(min(left, max(refresh_at - time.monotonic(), 0.01))):
                    event = await stream.queue.get()
            except TimeoutError:
                continue
            if stream.reset is not None or event.event == "wake":
                continue  # a fatal reset is sent first, at the top of the loop; a marker only woke us
            yield _sse(event.event, event.data, event.position)
    finally:
        hub.unsubscribe(stream)


def _sse(event: str, data: dict, position) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, separators=(",", ":")),
        event=event,
        id=position.encode() if position is not None else None,
    )
