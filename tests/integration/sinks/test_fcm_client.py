"""firebase-admin pointed at the emulator: both transports, and a service account whose token_uri is the emulator's."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from deploy.fcm_emulator.harness import FcmEmulator
from processors.push.rules import payload_for
from sinks.fcm.client import FcmClient
from sinks.fcm.messages import to_message, to_messages
from sinks.fcm.settings import FcmSettings
from streams.messages import Priority, PushRequest
from tests.certificates import make_ca_and_server
from tests.integration.fcm import device, push_request

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


def service_account(path, token_uri: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "herald-local",
                "private_key_id": "k1",
                "private_key": pem.decode(),
                "client_email": "sender@herald-local.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return str(path)


@pytest.mark.parametrize("transport", ["pool", "httpx"])
@pytest.mark.parametrize("with_service_account", [False, True])
def test_sends_and_errors_through_firebase_admin(fcm, tmp_path, transport, with_service_account):
    credentials = service_account(tmp_path / "sa.json", f"{fcm.url}/token") if with_service_account else None
    client = FcmClient(FcmSettings(fcm_endpoint=fcm.url, fcm_transport=transport, fcm_credentials=credentials))
    ok, gone, busy = device("a"), device("b"), device("c")
    fcm.fault(token=gone, code="UNREGISTERED")
    fcm.fault(token=busy, code="QUOTA_EXCEEDED", retry_after=7)
    payload = payload_for(push_request("a"), now=NOW, ttl_s=60)
    try:
        results = client.send(to_messages(payload, [ok, gone, busy]))  # as the sender builds them: parts shared
    finally:
        client.close()

    assert results[0].ok and results[0].message_id.startswith("projects/herald-local/messages/")
    assert (results[1].code, results[1].http_status) == ("UNREGISTERED", 404)
    assert (results[2].code, results[2].retry_after_s) == ("QUOTA_EXCEEDED", 7.0)
    assert [m["token"] for m in fcm.messages()] == [ok]


def test_an_unreachable_endpoint_is_a_result_not_an_exception(tmp_path):
    client = FcmClient(FcmSettings(fcm_endpoint="http://127.0.0.1:9"))
    request = PushRequest(push_request("a").notification_id, "a", "o", "LAB_RESULT_RECEIVED", Priority.HIGH, NOW, NOW)
    try:
        (result,) = client.send([to_message(payload_for(request, now=NOW, ttl_s=60), device("a"))])
    finally:
        client.close()
    assert not result.ok and result.http_status is None and result.code == "UNAVAILABLE"


def test_an_endpoint_that_accepts_but_never_answers_is_a_timeout_result(tmp_path):
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel completes the handshake; nobody reads
    try:
        client = FcmClient(FcmSettings(fcm_endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}", fcm_timeout_s=0.3))
        request = PushRequest(
            push_request("a").notification_id, "a", "o", "LAB_RESULT_RECEIVED", Priority.HIGH, NOW, NOW
        )
        started = time.monotonic()
        try:
            (result,) = client.send([to_message(payload_for(request, now=NOW, ttl_s=60), device("a"))])
        finally:
            client.close()
        assert time.monotonic() - started < 5
        assert not result.ok and result.http_status is None and result.code == "DEADLINE_EXCEEDED"  # retried
    finally:
        silent.close()


@pytest.mark.parametrize("transport", ["pool", "httpx"])
def test_sends_over_tls_to_an_emulator_whose_ca_is_trusted_through_ssl_cert_file(tmp_path, monkeypatch, transport):
    """The emulator started with --tls-cert/--tls-key; the client trusts the test CA through OpenSSL's
    SSL_CERT_FILE (how a corporate proxy's CA is added, no Herald setting needed), then refuses it without."""
    ca, cert, key = make_ca_and_server(tmp_path / "tls")
    emulator = FcmEmulator.start(tmp_path / "tls-emulator.log", tls=(cert, key), ca_file=ca)
    try:
        assert emulator.url.startswith("https://")
        monkeypatch.setenv("SSL_CERT_FILE", ca)
        trusted = FcmClient(FcmSettings(fcm_endpoint=emulator.url, fcm_transport=transport))
        try:
            token = device("a")
            (sent,) = trusted.send([to_message(payload_for(push_request("a"), now=NOW, ttl_s=60), token)])
        finally:
            trusted.close()
        monkeypatch.delenv("SSL_CERT_FILE")
        untrusted = FcmClient(FcmSettings(fcm_endpoint=emulator.url, fcm_transport=transport, fcm_timeout_s=5))
        started = time.monotonic()
        try:
            (refused,) = untrusted.send([to_message(payload_for(push_request("b"), now=NOW, ttl_s=60), device("b"))])
        finally:
            untrusted.close()

        assert sent.ok and [m["token"] for m in emulator.messages()] == [token]
        assert not refused.ok and refused.http_status is None and refused.code == "UNAVAILABLE"
        assert time.monotonic() - started < 4  # refused at the handshake, not timed out
    finally:
        emulator.stop()
