"""Limits enforced before a request costs anything: header size and count, body size, authentication.

Two layers, each as early as its information exists:

- ``LimitedHttpToolsProtocol`` (uvicorn's httptools protocol, which bounds neither): the request line
  and header block may be at most ``HERALD_API_MAX_HEADER_BYTES`` and hold at most
  ``HERALD_API_MAX_HEADERS`` fields, counted as bytes arrive, so a 10 MB header or 100,000 headers
  are refused with 431 (and the connection closed) after the limit's worth of bytes, not after all.
- ``Gate`` (outermost ASGI middleware but for metrics): a body declared larger than
  ``HERALD_API_MAX_BODY_BYTES`` gets 413 before a byte of it is read, and a chunked body is counted as
  it arrives and refused the moment it passes the limit; on ``/v1`` the bearer token is verified before
  the route reads the body, so an unauthenticated request of any size gets 401 at the cost of reading
  its headers. Every ``/v1`` response carries ``Cache-Control: no-store``: it is PHI, or about it.
"""

from __future__ import annotations

import httptools
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.auth import AuthError, TokenVerifier
from api.settings import ApiSettings

NO_STORE = (b"cache-control", b"no-store")
_READ_CHUNK = 262_144  # the most asyncio hands a protocol at once
_STATUS_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 33\r\n\r\nrequest header fields too large\r\n"
)


def limited_protocol(max_header_bytes: int, max_headers: int) -> type[HttpToolsProtocol]:
    """The protocol class given to uvicorn's ``http=``, with this process's limits."""
    LimitedHttpToolsProtocol.max_header_bytes, LimitedHttpToolsProtocol.max_headers = max_header_bytes, max_headers
    return LimitedHttpToolsProtocol


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the two limits; a module-level class, so that uvicorn can hand
    it to worker processes (``HERALD_API_WORKERS`` > 1), which read the limits from their settings."""

    max_header_bytes: int | None = None
    max_headers: int | None = None
    _in_head = False
    _head_bytes = 0  # request line and header fields of the request being parsed
    _received = 0  # bytes received since it began: bounds a field still being read
    _fields = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._received, self._fields = True, 0, 0, 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._limits()[0] or self._fields > self._limits()[1]:
            raise _TooLarge()

    @classmethod
    def _limits(cls) -> tuple[int, int]:
        if cls.max_header_bytes is None or cls.max_headers is None:  # a worker process: from its settings
            settings = ApiSettings()
            cls.max_header_bytes, cls.max_headers = settings.api_max_header_bytes, settings.api_max_headers
        return cls.max_header_bytes, cls.max_headers

    def data_received(self, data: bytes) -> None:  # uvicorn's, plus the refusal
        self._unset_keepalive_if_required()
        if self._in_head:
            self._received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _TooLarge):
                self._refuse()
                return
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._in_head and self._received > self._limits()[0] + _READ_CHUNK:
            self._refuse()  # one field larger than the whole limit, still arriving

    def _refuse(self) -> None:
        self.logger.warning("refused a request whose header block exceeds the limits")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_STATUS_431)
            self.transport.close()


class _TooLarge(Exception):
    """Raised inside a parser callback; the parser wraps it, ``data_received`` unwraps it."""


class Gate:
    """Body limit, early authentication and no-store, in that order; see the module docstring."""

    def __init__(self, app: ASGIApp, *, verifier: TokenVerifier, max_body_bytes: int) -> None:
        self.app, self.verifier, self.max_body = app, verifier, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:  # duplicate names: the first wins, as in Starlette's Headers
            headers.setdefault(name, value)
        guarded = scope["path"].startswith("/v1/") or scope["path"] == "/v1"
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _problem(
                413 if declared.isdigit() else 400,
                "request body too large" if declared.isdigit() else "invalid Content-Length",
                guarded,
            )(scope, receive, send)
            return
        if guarded:
            refusal = self._authenticate(scope, headers.get(b"authorization"))
            if refusal is not None:
                await _problem(401, refusal, True, {"WWW-Authenticate": 'Bearer realm="herald"'})(scope, receive, send)
                return
        await self.app(scope, self._counting(receive), _no_store(send) if guarded else send)

    def _authenticate(self, scope: Scope, authorization: bytes | None) -> str | None:
        """None when the token verified (the caller is left in the request state), else why not."""
        scheme, _, credentials = (authorization or b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return "missing bearer token"
        try:
            scope.setdefault("state", {})["token_viewer"] = self.verifier.verify(credentials.strip())
        except AuthError as exc:
            return str(exc)
        return None

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, "request body too large")
            return message

        return counted


def _no_store(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), NO_STORE]
        await send(message)

    return sending


def _problem(status: int, message: str, no_store: bool, headers: dict | None = None) -> JSONResponse:
    response = JSONResponse({"message": message, "errors": []}, status_code=status, headers=headers)
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response
