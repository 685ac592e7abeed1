"""What ``sinks/fcm/firebase_internals.py`` assumes about firebase-admin, checked against the installed
version: the private names it touches exist with the shapes it relies on, and a send through the adapter
reaches the emulator as FCM HTTP v1 requests and comes back as the SDK's typed results. pyproject.toml
pins firebase-admin to the range this test was run on; widen it only after this test passes on the new
version."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from importlib.metadata import version

import firebase_admin
import google.auth.credentials
import httpx
import pytest
from firebase_admin import _http_client, _retry, credentials, exceptions, messaging

from deploy.fcm_emulator.fcm import Emulator, Fault
from deploy.fcm_emulator.server import serve
from sinks.fcm.firebase_internals import (
    MessagingService,
    encode_message,
    sdk_http_client,
)
from sinks.fcm.messages import to_messages
from sinks.fcm.transport import SdkHttpClient

PROJECT = "herald-local"
_apps = itertools.count(1)


class _Token(google.auth.credentials.Credentials):
    def __init__(self) -> None:
        super().__init__()
        self.token = "contract-test"

    def refresh(self, request) -> None:
        """Always valid."""


class _Credential(credentials.Base):
    def __init__(self) -> None:
        self._credential = _Token()

    def get_credential(self):
        return self._credential


@pytest.fixture
def app():
    app = firebase_admin.initialize_app(_Credential(), {"projectId": PROJECT}, name=f"contract-{next(_apps)}")
    yield app
    firebase_admin.delete_app(app)


def message(token: str = "a-0:APA91bContract") -> messaging.Message:
    return messaging.Message(
        token=token,
        data={"notification_id": "n-1"},
        notification=messaging.Notification(title="New lab result", body="Open Herald"),
        android=messaging.AndroidConfig(priority="high", ttl=60, collapse_key="n-1"),
    )


# --- the private names and their shapes --------------------------------------------------------------


def test_the_installed_version_is_the_one_this_test_covers():
    major, minor = (int(part) for part in version("firebase-admin").split(".")[:2])
    assert (major, minor) == (7, 7), "run this test on the new version, then move the pin in pyproject.toml"


def test_the_messaging_service_is_built_per_app_with_the_instance_attributes_we_set(app):
    service = messaging._get_messaging_service(app)  # noqa: SLF001

    assert isinstance(service, messaging._MessagingService)  # noqa: SLF001
    assert messaging._get_messaging_service(app) is service  # noqa: SLF001 - one per app: our settings stay
    assert service._fcm_url == f"https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send"  # noqa: SLF001
    assert "_fcm_url" in vars(service) and "_async_client" in vars(service)  # per instance, not the class
    assert isinstance(service._async_client, _http_client.HttpxAsyncClient)  # noqa: SLF001
    assert inspect.iscoroutinefunction(service._async_client.request)  # noqa: SLF001
    assert inspect.iscoroutinefunction(service._async_client.aclose)  # noqa: SLF001


def test_message_data_and_encode_message_have_the_shapes_the_adapter_reproduces(app):
    service = messaging._get_messaging_service(app)  # noqa: SLF001
    assert list(inspect.signature(service._message_data).parameters) == ["message", "dry_run"]  # noqa: SLF001
    assert isinstance(inspect.getattr_static(messaging._MessagingService, "encode_message"), classmethod)  # noqa: SLF001
    assert list(inspect.signature(service.send_each_async).parameters) == ["messages", "dry_run"]

    sdk_data = service._message_data(message(), False)  # noqa: SLF001
    adapter = MessagingService(app, send_url="http://127.0.0.1:9/x", http_client=service._async_client)  # noqa: SLF001

    assert sdk_data == adapter._message_data(message(), False) == {"message": encode_message(message())}  # noqa: SLF001
    assert adapter._message_data(message(), True) == {**sdk_data, "validate_only": True}  # noqa: SLF001
    assert encode_message(message())["token"] == "a-0:APA91bContract"


def test_the_sdk_httpx_client_takes_a_retry_config_without_retries():
    parameters = inspect.signature(_http_client.HttpxAsyncClient).parameters
    assert {"credential", "retry_config", "timeout", "http2"} <= set(parameters)
    assert "max_retries" in inspect.signature(_retry.HttpxRetry).parameters
    client = sdk_http_client(_Token(), timeout_s=5, http2=False)
    assert isinstance(client, _http_client.HttpxAsyncClient)  # that it does not retry: the send test below
    asyncio.run(client.aclose())


# --- a send through the adapter, against the emulator ------------------------------------------------


class Recording:
    """Passes the SDK's calls through to ``inner`` and keeps them: what the SDK asks the HTTP hop to send."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, []

    async def request(self, method: str, url: str, **kwargs):
        self.calls.append((method, url, kwargs))
        return await self.inner.request(method, url, **kwargs)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def send_through_adapter(app, transport: str, messages: list[messaging.Message]):
    emulator = Emulator()
    emulator.add_fault(Fault.from_json({"token": "b-0:APA91bGone", "code": "UNREGISTERED"}))
    emulator.add_fault(Fault.from_json({"token": "c-0:APA91bBusy", "code": "QUOTA_EXCEEDED", "retry_after": 7}))
    emulator.add_fault(Fault.from_json({"token": "d-0:APA91bDown", "code": "UNAVAILABLE"}))
    server = await serve("127.0.0.1", 0, emulator)
    origin = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    inner = (
        SdkHttpClient(_Token(), origin, size=4, timeout_s=5)
        if transport == "pool"
        else sdk_http_client(_Token(), timeout_s=5, http2=False)
    )
    client = Recording(inner)
    adapter = MessagingService(app, send_url=f"{origin}/v1/projects/{PROJECT}/messages:send", http_client=client)
    try:
        batch = await adapter.send_each(messages)
    finally:
        await adapter.aclose()
        server.close()
        await server.wait_closed()
    return batch, client.calls, emulator, origin


@pytest.mark.parametrize("transport", ["pool", "httpx"])
def test_a_send_through_the_adapter_is_fcm_v1_on_the_wire_and_typed_results_back(app, transport):
    tokens = ["a-0:APA91bSent", "b-0:APA91bGone", "c-0:APA91bBusy", "d-0:APA91bDown"]
    payload = to_messages(_payload(), tokens)

    batch, calls, emulator, origin = asyncio.run(send_through_adapter(app, transport, payload))

    assert [(method, url) for method, url, _ in calls] == [
        ("post", f"{origin}/v1/projects/{PROJECT}/messages:send")
    ] * 4
    assert [kwargs["json"] for _, _, kwargs in calls] == [{"message": encode_message(m)} for m in payload]
    assert all(kwargs["headers"]["X-GOOG-API-FORMAT-VERSION"] == "2" for _, _, kwargs in calls)
    assert [m["token"] for m in emulator.accepted()] == ["a-0:APA91bSent"]
    assert emulator.accepted()[0]["message"] == encode_message(payload[0])  # the wire JSON, as the SDK encoded it
    sent, gone, busy, down = batch.responses
    assert sent.success and sent.message_id.startswith(f"projects/{PROJECT}/messages/")
    assert isinstance(gone.exception, messaging.UnregisteredError)
    assert gone.exception.http_response.status_code == 404
    assert isinstance(busy.exception, messaging.QuotaExceededError)
    assert busy.exception.http_response.headers["retry-after"] == "7"
    assert isinstance(down.exception, exceptions.UnavailableError)
    assert [a["code"] for a in emulator.attempts if a["token"] == tokens[3]] == ["UNAVAILABLE"]  # tried once: we retry


@pytest.mark.parametrize("transport", ["pool", "httpx"])
def test_no_connection_is_the_sdks_unavailable_error(app, transport):
    client = (
        SdkHttpClient(_Token(), "http://127.0.0.1:9", size=1, timeout_s=2)
        if transport == "pool"
        else sdk_http_client(_Token(), timeout_s=2, http2=False)
    )
    adapter = MessagingService(
        app, send_url=f"http://127.0.0.1:9/v1/projects/{PROJECT}/messages:send", http_client=client
    )

    async def send():
        try:
            return await adapter.send_each([message()])
        finally:
            await adapter.aclose()

    (response,) = asyncio.run(send()).responses

    assert isinstance(response.exception, exceptions.UnavailableError)
    assert isinstance(response.exception.cause, httpx.ConnectError)


def _payload():
    from datetime import datetime, timezone
    from uuid import uuid4

    from processors.push.rules import payload_for
    from streams.messages import Priority, PushRequest

    now = datetime.now(timezone.utc)
    return payload_for(
        PushRequest(uuid4(), "u-1", "org-1", "LAB_RESULT_RECEIVED", Priority.HIGH, now, now), now=now, ttl_s=60
    )
