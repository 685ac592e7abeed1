"""The emulator's HTTP/1.1 server: a small asyncio protocol, keep-alive, Content-Length bodies.

Why not uvicorn/starlette or aiohttp: on this 2-core machine, shared with Kafka, Postgres and the
sender, the emulator must not be the bottleneck of ``bench/push.py``. A bare ``asyncio.Protocol``
that parses the request head itself measured faster than both framework stacks for this
one-route, JSON-in/JSON-out workload (figures in docs/push.md). uvloop is used when installed.

Over TLS when started with a certificate (``--tls-cert/--tls-key``): tests check the sender's
transport verifies it.

Routes:
  POST   /v1/projects/{project}/messages:send    FCM HTTP v1 (needs ``Authorization: Bearer …``)
  POST   /token                                   OAuth 2 token endpoint (any grant is accepted)
  GET    /healthz
  POST   /emulator/faults      a fault (or a list): {"token", "code", "times", "rate", "latency_ms", "retry_after"}
  GET    /emulator/faults      DELETE /emulator/faults[?token=T]
  GET    /emulator/messages[?token=T]   accepted messages, oldest first, each with its ``delivery`` (Android
                                        and APNs priority, iOS interruption level);  DELETE clears messages and attempts
  GET    /emulator/attempts[?token=T]   every send attempt with its outcome code and time
  GET    /emulator/stats                counts of accepted messages and attempts by code
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from dataclasses import asdict
from urllib.parse import parse_qs, urlsplit

from deploy.fcm_emulator.fcm import Emulator, Fault, Reply

log = logging.getLogger("fcm-emulator")
_SEND_PREFIX = "/v1/projects/"
_SEND_SUFFIX = "/messages:send"
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_HEAD_MAX = 64 * 1024
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # built once (json.dumps with options builds one per call)


class HttpProtocol(asyncio.Protocol):
    """One client connection; requests are answered in order (no pipelining across a delayed reply)."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._busy = False

    def connection_made(self, transport) -> None:
        self._transport = transport

    def connection_lost(self, exc) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._drain()

    def _drain(self) -> None:
        """Answers every complete request in the buffer; stops at a delayed one."""
        while self._transport is not None and not self._busy:
            request = self._next_request()
            if request is None:
                return
            method, target, headers, body = request
            reply = route(self._emulator, method, target, headers, body)
            keep_alive = headers.get("connection", "").lower() != "close"
            if reply.delay_s > 0:
                self._busy = True
                asyncio.get_running_loop().call_later(reply.delay_s, self._finish_delayed, reply, keep_alive)
                return
            self._write(reply, keep_alive)

    def _finish_delayed(self, reply: Reply, keep_alive: bool) -> None:
        self._busy = False
        self._write(reply, keep_alive)
        self._drain()

    def _next_request(self):
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _HEAD_MAX:
                self._fail(400)
            return None
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            self._fail(400)
            return None
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._fail(411)
            return None
        length = int(headers.get("content-length") or 0)
        if len(self._buffer) < end + 4 + length:
            return None
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        return method, target, headers, body

    def _write(self, reply: Reply, keep_alive: bool) -> None:
        if self._transport is None:
            return
        payload = _COMPACT.encode(reply.body).encode() if reply.status != 204 else b""
        head = [
            f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}",
            "Content-Type: application/json; charset=UTF-8",
            f"Content-Length: {len(payload)}",
        ]
        head += [f"{k}: {v}" for k, v in reply.headers]
        if not keep_alive:
            head.append("Connection: close")
        self._transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        if not keep_alive:
            self._transport.close()

    def _fail(self, status: int) -> None:
        self._write(Reply(status, {"error": {"code": status, "message": _REASONS.get(status, "")}}), False)


def route(emulator: Emulator, method: str, target: str, headers: dict, body: bytes) -> Reply:
    """Dispatches one request; the FCM send route is checked first because it is the hot one."""
    path = target.split("?", 1)[0]
    if method == "POST" and path.startswith(_SEND_PREFIX) and path.endswith(_SEND_SUFFIX):
        project = path[len(_SEND_PREFIX) : -len(_SEND_SUFFIX)]
        return emulator.send(project, body, headers.get("authorization", "").startswith("Bearer "))
    try:
        return _admin(emulator, method, path, _query(target), body)
    except (ValueError, TypeError, KeyError) as exc:
        return Reply(400, {"error": {"code": 400, "message": str(exc)}})


def _query(target: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}


def _admin(emulator: Emulator, method: str, path: str, query: dict, body: bytes) -> Reply:
    key = (method, path)
    if key == ("POST", "/token"):
        return Reply(200, {"access_token": "emulator-access-token", "token_type": "Bearer", "expires_in": 3600})
    if key == ("GET", "/healthz"):
        return Reply(200, {"status": "ok"})
    if key == ("POST", "/emulator/faults"):
        specs = json.loads(body or b"{}")
        for spec in specs if isinstance(specs, list) else [specs]:
            emulator.add_fault(Fault.from_json(spec))
        return Reply(200, {"faults": len(emulator.faults)})
    if key == ("GET", "/emulator/faults"):
        return Reply(200, {"faults": [asdict(f) for f in emulator.faults]})
    if key == ("DELETE", "/emulator/faults"):
        emulator.clear_faults(query.get("token"))
        return Reply(200, {"faults": len(emulator.faults)})
    if key == ("GET", "/emulator/messages"):
        return Reply(200, {"messages": emulator.accepted(query.get("token"))})
    if key == ("DELETE", "/emulator/messages"):
        emulator.clear_messages()
        return Reply(200, {"messages": 0})
    if key == ("GET", "/emulator/attempts"):
        return Reply(200, {"attempts": _select(emulator.attempts, query)})
    if key == ("GET", "/emulator/stats"):
        return Reply(200, emulator.stats())
    return Reply(404, {"error": {"code": 404, "message": f"no route {method} {path}", "status": "NOT_FOUND"}})


def _select(rows: list[dict], query: dict) -> list[dict]:
    token = query.get("token")
    return [r for r in list(rows) if token is None or r.get("token") == token]


async def serve(
    host: str, port: int, emulator: Emulator | None = None, ssl_context: ssl.SSLContext | None = None
) -> asyncio.base_events.Server:
    """Starts listening (over TLS with ``ssl_context``); called by ``__main__`` (and by tests that run
    the emulator in-process)."""
    emulator = emulator or Emulator()
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: HttpProtocol(emulator), host, port, backlog=1024, ssl=ssl_context)


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context for a PEM certificate (chain) and its key, e.g. a self-signed one for tests."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context
