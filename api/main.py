"""Builds the read API: settings → token verifier, engine, routers, error handlers, metrics middleware."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from api import errors
from api.allow import AllowedMethods
from api.auth import TokenVerifier
from api.database import Database
from api.deps import known_query_only
from api.directory import DirectoryCache
from api.limits import Gate
from api.live.install import install as install_live
from api.metrics import MetricsMiddleware
from api.routes import (
    alerts,
    devices,
    escalation_policies,
    feed,
    health,
    notifications,
    patients,
    preferences,
    receipts,
)
from api.schemas import ERROR_RESPONSES
from api.settings import ApiSettings
from api.ui import mount as mount_ui
from api.windows import RetentionWindows
from sinks.postgres.settings import DataLifecycleSettings
from streams.app import configure_logging

DESCRIPTION = """Activity feed, patient timelines, the notification bell, preferences and push devices.

Every `/v1` call needs `Authorization: Bearer <JWT>` with `sub` (user id), `org`, `roles` and `exp`.
A user never sees another organization's data, nor a patient they may not access (404, never 403, for
objects of another organization)."""


def create_app(
    settings: ApiSettings, *, engine: Engine | None = None, retention: DataLifecycleSettings | None = None
) -> FastAPI:
    """Called once per process (``api.__main__``, tests); ``settings.check_secure()`` is the caller's job.
    ``retention`` (default: read from the environment now) bounds how far back each organization's feed,
    timelines and bell reach (``api.windows``)."""
    database = Database.from_settings(settings, engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        database.dispose()

    app = FastAPI(title="Herald API", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.windows = RetentionWindows.from_settings(settings, retention or DataLifecycleSettings())
    app.state.verifier = TokenVerifier.from_settings(settings)
    app.state.database = database
    app.state.directory = DirectoryCache(database, settings.api_directory_cache_s)
    app.include_router(health.router)
    for resource in (feed, patients, notifications, receipts, alerts, escalation_policies, preferences, devices):
        app.include_router(resource.router, responses=ERROR_RESPONSES, dependencies=[Depends(known_query_only)])
    install_live(app, settings, app.state.windows)
    mount_ui(app)
    errors.install(app)
    app.add_middleware(Gate, verifier=app.state.verifier, max_body_bytes=settings.api_max_body_bytes)
    app.add_middleware(AllowedMethods, document=app.openapi)
    app.add_middleware(MetricsMiddleware)
    return app


def app_from_env() -> FastAPI:
    """The factory ``uvicorn --factory`` calls in each worker process (HERALD_API_WORKERS > 1)."""
    configure_logging()
    settings = ApiSettings()
    settings.check_secure()
    return create_app(settings)
