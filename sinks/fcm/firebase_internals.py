"""Every use of firebase-admin beyond its public API, in one module with a narrow surface.

firebase-admin 7 sends FCM messages through ``_MessagingService``, and has no public way to do three
things the push sender needs:

- point the service at another endpoint than Google's (the emulator, locally): its send URL is the
  instance attribute ``_fcm_url``, formatted from ``FCM_URL`` when the service is built;
- send through another HTTP client (``transport.SdkHttpClient``, or the SDK's own httpx client
  without its internal retries, because the sender owns retries): the instance attribute
  ``_async_client``, called as ``await client.request("post", url=, headers=, json=)``;
- encode a push once for all its devices (docs/decisions/0019-push-requests-encoded-once.md): the
  method ``_message_data(message, dry_run) -> {"message": ..., ["validate_only": True]}``, and the
  classmethod ``_MessagingService.encode_message(message)``.

Each of these is set on one service instance only (never on the class), so two clients in one process
(tests, benchmarks) can point at two servers. ``MessagingService`` is the only way the rest of
``sinks/fcm`` reaches them; the contract test (tests/unit/sinks/fcm/test_firebase_internals_contract.py) checks
every assumption listed here against the installed firebase-admin, and pyproject.toml pins the version
range that test covers. When an upgrade breaks it, this module is the one to change.

The HTTP client contract (what ``SdkHttpClient`` implements): ``request`` returns an object whose
``json()`` is FCM's answer for a 2xx, and fails with ``httpx.HTTPStatusError`` carrying a real
``httpx.Response`` (the SDK maps its body to ``UnregisteredError``, ``QuotaExceededError``…) or another
``httpx.HTTPError`` (connection, timeout); ``aclose()`` closes it.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

import firebase_admin
from firebase_admin import messaging


class HttpClient(Protocol):
    """What the messaging service calls on its async HTTP client (see module doc)."""

    async def request(self, method: str, url: str, **kwargs: Any) -> Any: ...

    async def aclose(self) -> None: ...


Encoder = Callable[[messaging.Message], dict]


class MessagingService:
    """firebase-admin's messaging service of ``app``, sending to ``send_url`` through ``http_client``,
    with each message's JSON made by ``encoder`` (the SDK's encoding, possibly reused; see module doc).

    The encoder can be replaced between sends (``encoder`` attribute): it is read on every message."""

    def __init__(
        self, app: firebase_admin.App, *, send_url: str, http_client: HttpClient, encoder: Encoder | None = None
    ) -> None:
        self._service = messaging._get_messaging_service(app)  # noqa: SLF001
        self.encoder: Encoder = encoder or encode_message
        self._service._fcm_url = send_url  # noqa: SLF001
        self._service._async_client = http_client  # noqa: SLF001
        self._service._message_data = self._message_data  # noqa: SLF001

    def _message_data(self, message: messaging.Message, dry_run: bool) -> dict[str, object]:
        """What ``_MessagingService._message_data`` returns, with our encoder."""
        data: dict[str, object] = {"message": self.encoder(message)}
        if dry_run:
            data["validate_only"] = True
        return data

    @property
    def http_client(self) -> HttpClient:
        return self._service._async_client  # noqa: SLF001

    async def send_each(self, messages: list[messaging.Message]) -> messaging.BatchResponse:
        """``send_each_async`` of the SDK (at most 500 messages; per-message failures in the responses)."""
        return await self._service.send_each_async(messages, dry_run=False)

    async def aclose(self) -> None:
        await self.http_client.aclose()


def encode_message(message: messaging.Message) -> dict:
    """The JSON the SDK sends for ``message`` (validating every field on the way)."""
    return messaging._MessagingService.encode_message(message)  # noqa: SLF001


def sdk_http_client(credential, *, timeout_s: float, http2: bool) -> HttpClient:
    """The SDK's own httpx client, with its internal 500/503 retries turned off (the sender retries)."""
    from firebase_admin import _http_client, _retry

    return _http_client.HttpxAsyncClient(
        credential=credential, retry_config=_retry.HttpxRetry(max_retries=0), timeout=timeout_s, http2=http2
    )
