"""Builds the read API: settings → token verifier, engine, routers, error handlers, metrics middleware."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import sessionmaker

from api import errors
from api.auth import TokenVerifier
from api.directory import DirectoryCache
from api.metrics import MetricsMiddleware
from api.routes import devices, feed, health, notifications, patients, preferences
from api.schemas import ERROR_RESPONSES
from api.settings import ApiSettings
from streams.app import configure_logging

DESCRIPTION = """Activity feed, patient timelines, the notification bell, preferences and push devices.

Every `/v1` call needs `Authorization: Bearer <JWT>` with `sub` (user id), `org`, `roles` and `exp`.
A user never sees another organization's data, nor a patient they may not access (404, never 403, for
objects of another organization)."""


def build_api_engine(settings: ApiSettings) -> Engine:
    """Autocommit (a read that must be consistent is one statement; no BEGIN/ROLLBACK round trips) and no
    pre-ping (another round trip per request): after a database restart the first request on each dead
    connection gets a 503 and the pool is replaced. A statement may not run longer than 5 s."""
    return create_engine(settings.database_url, pool_size=settings.api_db_pool_size,
                         max_overflow=settings.api_db_pool_size, pool_recycle=1800, isolation_level="AUTOCOMMIT",
                         hide_parameters=True, connect_args={"connect_timeout": 5, "options": "-c statement_timeout=5000"})


def create_app(settings: ApiSettings, *, engine: Engine | None = None) -> FastAPI:
    """Called once per process (``api.__main__``, tests); ``settings.check_secure()`` is the caller's job."""
    engine = engine or build_api_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        engine.dispose()

    app = FastAPI(title="Herald API", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.verifier = TokenVerifier.from_settings(settings)
    app.state.sessions = sessionmaker(engine, expire_on_commit=False)
    app.state.directory = DirectoryCache(app.state.sessions, settings.api_directory_cache_s)
    app.include_router(health.router)
    for resource in (feed, patients, notifications, preferences, devices):
        app.include_router(resource.router, responses=ERROR_RESPONSES)
    errors.install(app)
    app.add_middleware(MetricsMiddleware)
    return app


def app_from_env() -> FastAPI:
    """The factory ``uvicorn --factory`` calls in each worker process (HERALD_API_WORKERS > 1)."""
    configure_logging()
    settings = ApiSettings()
    settings.check_secure()
    return create_app(settings)
