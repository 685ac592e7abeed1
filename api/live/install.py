"""Wires live updates into an app: the hub on ``app.state.live``, its task in the app's lifespan, the routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from psycopg import AsyncConnection
from sqlalchemy.engine import make_url

from api.deps import known_query_only
from api.live.hub import LiveHub
from api.routes import streams
from api.schemas import ERROR_RESPONSES
from api.settings import ApiSettings
from api.windows import RetentionWindows


def conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (the hub's own connection is psycopg's, async)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def install(app: FastAPI, settings: ApiSettings, windows: RetentionWindows) -> LiveHub:
    """Called once by ``create_app``; the hub's task runs while the app's lifespan does."""
    url = conninfo(settings.database_url)

    async def connect() -> AsyncConnection:
        return await AsyncConnection.connect(url, autocommit=True, connect_timeout=5)

    hub = LiveHub(
        connect,
        poll_s=settings.api_stream_poll_s,
        replay_s=settings.api_stream_replay_s,
        queue_max=settings.api_stream_queue_max,
        bell_since=windows.bell_since,
    )
    app.state.live = hub
    app.include_router(streams.router, responses=ERROR_RESPONSES, dependencies=[Depends(known_query_only)])
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[object]:
        task = asyncio.create_task(hub.run(), name="herald-live-hub")
        try:
            async with inner(app_) as state:
                yield state
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.router.lifespan_context = lifespan  # type: ignore[assignment]  # the state the inner one yields
    return hub
