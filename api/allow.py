"""``OPTIONS`` and ``405`` name every method a path serves.

Starlette answers a method a path does not serve from the first route that matched the path only, so
``/v1/preferences`` (one route for GET, one for PUT) would say ``Allow: GET``. This middleware answers
``OPTIONS`` itself (204, no authentication: it reveals only what the OpenAPI document says) and puts
the full list in the ``Allow`` header of every 405.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AllowedMethods:
    """``document`` returns the OpenAPI document (read once, on first use): its paths are the routes."""

    def __init__(self, app: ASGIApp, *, document: Callable[[], dict]) -> None:
        self.app, self.document = app, document
        self._paths: list[tuple[re.Pattern, frozenset[str]]] | None = None

    def allowed(self, scope: Scope) -> list[str]:
        if self._paths is None:
            self._paths = [
                (compile_path(template)[0], frozenset(m.upper() for m in operations))
                for template, operations in self.document()["paths"].items()
            ]
        methods: set[str] = set()
        for pattern, served in self._paths:
            if pattern.match(scope["path"]):
                methods |= served
        return sorted(methods | {"OPTIONS"}) if methods else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allowed = self.allowed(scope)
            if allowed:
                await Response(status_code=204, headers={"Allow": ", ".join(allowed)})(scope, receive, send)
                return

        async def sending(message: Message) -> None:
            served = (
                self.allowed(scope) if message["type"] == "http.response.start" and message["status"] == 405 else []
            )
            if served:  # a path outside the document (the /ui/ page) keeps the Allow its app set
                message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"] + [
                    (b"allow", ", ".join(served).encode())
                ]
            await send(message)

        await self.app(scope, receive, sending)
