"""Every error leaves as JSON ``{"message": ..., "errors": [{"field", "reason"}]}`` (``schemas.Problem``).

Nothing from a request (ids, parameters, bodies) is logged: an unexpected error logs its class and the
route template only, so no PHI reaches the logs.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.database import Saturated

log = logging.getLogger("herald.api")


class FieldInvalid(Exception):
    """A parameter passed validation of its type but not of its meaning (a forged cursor, …); a 422."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def not_found(what: str) -> HTTPException:
    """The one answer for "does not exist" and "exists but not yours": never reveal which."""
    return HTTPException(404, f"{what} not found")


def _problem(status: int, message: str, errors: list[dict] | None = None, headers=None) -> JSONResponse:
    return JSONResponse({"message": message, "errors": errors or []}, status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    parts = (
        [str(p) for p in loc[1:]]
        if len(loc) > 1 and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    return ".".join(parts) or "body"


def _reason(message: str) -> str:
    return message.removeprefix("Value error, ")


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return _problem(400, "the body is not valid JSON")
    errors = [
        {"field": _field(tuple(e.get("loc", ()))), "reason": _reason(e.get("msg", "invalid"))} for e in exc.errors()
    ]
    return _problem(422, "invalid request", errors)


async def on_field_invalid(request: Request, exc: FieldInvalid) -> JSONResponse:
    return _problem(422, "invalid request", [{"field": exc.field, "reason": exc.reason}])


async def on_database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.warning("database unavailable (%s) on %s %s", type(exc.orig).__name__, request.method, route)
    return _problem(503, "database unavailable; retry shortly", headers={"Retry-After": "1"})


async def on_saturated(request: Request, exc: Saturated) -> JSONResponse:
    """Every connection busy and the wait queue full (or the wait over): come back in a second."""
    return _problem(503, "busy; retry shortly", headers={"Retry-After": "1"})


async def on_pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.warning("no database connection in time on %s %s", request.method, route)
    return _problem(503, "busy; retry shortly", headers={"Retry-After": "1"})


async def on_data_error(request: Request, exc: DataError) -> JSONResponse:
    """A value the database refused (a last line of defence: the schemas refuse such values first)."""
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.warning("database refused a value (%s) on %s %s", type(exc.orig).__name__, request.method, route)
    return _problem(422, "invalid request", [{"field": "request", "reason": "a value the database refuses"}])


class UnexpectedErrors:
    """Innermost-but-one ASGI middleware: an exception no handler took becomes a JSON 500 here, and is
    logged by class, route template and stack frames only. Its message is never logged (a driver error
    can quote a parameter), and it is not re-raised, so the server does not log it either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def on_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, on_send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
            route = getattr(scope.get("route"), "path", "unmatched")
            frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__, limit=30)))
            log.error("unhandled %s on %s %s\n%s", type(exc).__name__, scope.get("method"), route, frames)
            if scope["type"] != "http":
                raise
            if started:
                return
            await _problem(500, "internal error")(scope, receive, send)


def install(app: FastAPI) -> None:
    """Called once by ``api.main.create_app``, before any other middleware is added."""
    # Starlette types every handler as taking any Exception; each of these is registered for one class only.
    handlers: list[tuple[type[Exception], Any]] = [
        (StarletteHTTPException, on_http_error),
        (RequestValidationError, on_validation_error),
        (FieldInvalid, on_field_invalid),
        (OperationalError, on_database_unavailable),
        (Saturated, on_saturated),
        (PoolTimeout, on_pool_timeout),
        (DataError, on_data_error),
    ]
    for exception, handler in handlers:
        app.add_exception_handler(exception, handler)
    app.add_middleware(UnexpectedErrors)
