"""The FCM transport over TLS, against the emulator serving a certificate of a test CA: sends when the
CA is trusted, and fails fast with a certificate error when it is not or the name does not match."""

from __future__ import annotations

import asyncio
import json
import ssl
import time

import httpx
import pytest

from deploy.fcm_emulator.fcm import Emulator
from deploy.fcm_emulator.server import serve, tls_context
from sinks.fcm.transport import Http1Pool
from tests.certificates import make_ca_and_server

SEND = "/v1/projects/herald-local/messages:send"
BODY = json.dumps({"message": {"token": "a-0:APA91bTLS", "data": {"k": "v"}}}).encode()
HEADERS = {"Authorization": "Bearer test", "Content-Type": "application/json"}


async def send_through(cert: str, key: str, client_context: ssl.SSLContext | None) -> tuple[int, dict, Emulator]:
    emulator = Emulator()
    server = await serve("127.0.0.1", 0, emulator, ssl_context=tls_context(cert, key))
    port = server.sockets[0].getsockname()[1]
    pool = Http1Pool(f"https://127.0.0.1:{port}", size=2, timeout_s=5, ssl_context=client_context)
    try:
        status, _, content = await pool.request("POST", SEND, HEADERS, BODY)
        return status, json.loads(content), emulator
    finally:
        await pool.aclose()
        server.close()
        await server.wait_closed()


def test_a_pool_that_trusts_the_ca_sends_over_tls(tmp_path):
    ca, cert, key = make_ca_and_server(tmp_path)

    status, answer, emulator = asyncio.run(send_through(cert, key, ssl.create_default_context(cafile=ca)))

    assert status == 200 and answer["name"].startswith("projects/herald-local/messages/")
    assert [m["token"] for m in emulator.accepted()] == ["a-0:APA91bTLS"]


def test_a_pool_on_the_system_cas_refuses_the_unknown_ca_quickly(tmp_path):
    _, cert, key = make_ca_and_server(tmp_path)
    started = time.monotonic()

    with pytest.raises(httpx.ConnectError) as failure:
        asyncio.run(send_through(cert, key, None))  # None: the default context, the system's CAs

    assert time.monotonic() - started < 4  # an answer, not the 5 s timeout
    assert isinstance(failure.value.__cause__, ssl.SSLCertVerificationError)
    assert "unable to get local issuer certificate" in str(failure.value.__cause__)


def test_a_certificate_for_another_host_is_refused_even_from_a_trusted_ca(tmp_path):
    ca, cert, key = make_ca_and_server(tmp_path, host="fcm.example.org")

    with pytest.raises(httpx.ConnectError) as failure:
        asyncio.run(send_through(cert, key, ssl.create_default_context(cafile=ca)))

    assert isinstance(failure.value.__cause__, ssl.SSLCertVerificationError)
    assert "IP address mismatch" in str(failure.value.__cause__)
