"""A lean keep-alive HTTP/1.1 client that stands in for firebase-admin's httpx client.

Why: firebase-admin's ``send_each_async`` sends through ``HttpxAsyncClient``, whose httpx + httpcore
cost milliseconds of CPU per request (and httpcore's pool slows down as requests queue), which caps a
sender near a few hundred pushes/s; a plain asyncio stream costs a small fraction of that (measured in
docs/push.md). So the SDK keeps doing what matters (message validation and
encoding, ``send_each_async``'s fan-out, mapping error responses to ``UnregisteredError``,
``QuotaExceededError``…), and only its HTTP hop is swapped: ``SdkHttpClient`` has the one method the
SDK's messaging service calls, ``request(method, url, headers=, json=)``, and fails the way
``HttpxAsyncClient`` does (``httpx.HTTPStatusError`` with a real ``httpx.Response``, ``httpx.ConnectError``,
``httpx.TimeoutException``), so the SDK's error handling runs unchanged.

It speaks HTTP/1.1 only (FCM accepts it), over TLS for https:// origins, with Content-Length or
chunked responses. No retries: the push sender owns retry policy (Retry-After included).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

_MAX_HEAD = 64 * 1024
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # built once: json.dumps with options builds one per call


class _Response:
    """A 2xx answer: all the SDK reads of one is ``json()``."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self):
        return json.loads(self.content)


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()


class Http1Pool:
    """Up to ``size`` keep-alive connections to one origin; a request waits for a free one.

    https:// origins: the certificate and host name are verified against the system's CAs, or against
    ``ssl_context`` when given (tests trust their own CA that way). A certificate that does not verify
    fails the connection attempt (``httpx.ConnectError``), like any refused connection."""

    def __init__(self, origin: str, *, size: int, timeout_s: float, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(origin)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        self._host_header = parts.netloc.encode()
        self._size = size
        self._timeout_s = timeout_s
        self._idle: list[_Connection] = []
        self._slots: asyncio.Semaphore | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        """One round trip; raises httpx.ConnectError / ReadError / TimeoutException like httpx would."""
        conn = await self._acquire()
        try:
            async with asyncio.timeout(self._timeout_s):  # no extra task per request, unlike wait_for
                answer = await self._round_trip(conn, method, path, headers, body)
        except asyncio.TimeoutError:
            self._discard(conn)
            raise httpx.ReadTimeout(f"no answer within {self._timeout_s}s") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            self._discard(conn)
            self._drop_idle()
            raise httpx.ReadError(f"connection failed mid-request: {exc!r}") from exc
        status, response_headers, content = answer
        if response_headers.get("connection", "").lower() == "close":
            self._discard(conn)
        else:
            self._release(conn)
        return status, response_headers, content

    async def _round_trip(self, conn: _Connection, method, path, headers, body) -> tuple[int, dict, bytes]:
        head = [
            f"{method} {path} HTTP/1.1".encode(),
            b"Host: " + self._host_header,
            b"Content-Length: " + str(len(body)).encode(),
        ]
        head += [f"{k}: {v}".encode("latin-1") for k, v in headers.items()]
        conn.writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        raw = await conn.reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        response_headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        return status, response_headers, await self._body(conn.reader, response_headers)

    @staticmethod
    async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size + 2))
                chunks[-1] = chunks[-1][:-2]
        return await reader.readexactly(int(headers.get("content-length") or 0))

    async def _acquire(self) -> _Connection:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)  # made inside the running loop
        await self._slots.acquire()
        if self._idle:
            return self._idle.pop()
        try:
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port, ssl=self._ssl, limit=_MAX_HEAD), self._timeout_s
            )
        except (OSError, asyncio.TimeoutError) as exc:
            raise httpx.ConnectError(f"cannot connect to {self._host}:{self._port}: {exc!r}") from exc
        return _Connection(reader, writer)

    def _release(self, conn: _Connection) -> None:
        self._idle.append(conn)
        self._held_slots().release()

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._held_slots().release()

    def _held_slots(self) -> asyncio.Semaphore:
        assert self._slots is not None, "a connection is released only after _acquire made the semaphore"
        return self._slots

    def _drop_idle(self) -> None:
        """Closes every idle connection after one broke: when the server went away they all did, and
        each would fail one more request when reused (after an FCM restart the sender's probes met the
        pool's 48 dead connections one by one: the first push went out ~19 s after FCM was back)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class SdkHttpClient:
    """Drop-in for firebase-admin's ``HttpxAsyncClient`` on the messaging service (see module doc).

    Authorization: the Google credential's bearer token, refreshed when it expires (a blocking call
    about once an hour) and once more on a 401 that is about our token, as the SDK's own auth flow does.
    """

    def __init__(self, credential, origin: str, *, size: int, timeout_s: float) -> None:
        self._credential = credential
        self._pool = Http1Pool(origin, size=size, timeout_s=timeout_s)
        self._auth_request: Any = None  # google.auth's Request, made on first use
        self._request_for_errors = httpx.Request("POST", origin)
        self._paths: dict[str, str] = {}  # the SDK sends every message to the same URL

    async def request(self, method: str, url: str, **kwargs):
        """Called by ``_MessagingService.send_each_async`` for every message."""
        body = _COMPACT.encode(kwargs.get("json")).encode()
        headers = {**kwargs.get("headers", {}), "Content-Type": "application/json; charset=UTF-8"}
        path = self._paths.get(url) or self._paths.setdefault(url, urlsplit(url).path)
        status, response_headers, content = await self._send(method.upper(), path, headers, body, refresh=False)
        if status == 401 and b"FcmError" not in content:  # our token (THIRD_PARTY_AUTH_ERROR is APNs' or web push's)
            status, response_headers, content = await self._send(method.upper(), path, headers, body, refresh=True)
        if status >= 400:
            response = httpx.Response(
                status, headers=response_headers, content=content, request=self._request_for_errors
            )
            raise httpx.HTTPStatusError(f"HTTP {status}", request=self._request_for_errors, response=response)
        return _Response(status, response_headers, content)

    async def _send(self, method, path, headers, body, *, refresh: bool):
        headers = {**headers, "Authorization": f"Bearer {self._token(refresh)}"}
        return await self._pool.request(method, path, headers, body)

    def _token(self, force: bool) -> str:
        if force or not self._credential.valid:
            if self._auth_request is None:
                from google.auth.transport.requests import Request

                self._auth_request = Request()
            self._credential.refresh(self._auth_request)
        return self._credential.token

    async def aclose(self) -> None:
        await self._pool.aclose()
