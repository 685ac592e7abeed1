"""Building the firebase-admin messaging client from FcmSettings, and sending a batch with it.

What this module sets through ``firebase_internals.MessagingService`` (the one module that reaches past
firebase-admin's public API; see there why each is needed):

Endpoint. ``HERALD_FCM_ENDPOINT`` (the emulator locally) or Google's FCM, on our service instance only.

Credentials. With ``HERALD_FCM_ENDPOINT`` set and no ``HERALD_FCM_CREDENTIALS``: a credential whose
refresh does nothing but set a fixed bearer token (the emulator only checks one is present). With a
service-account file: the SDK's ``Certificate`` (its ``token_uri`` may point at the emulator's
``/token``). Neither an endpoint nor a file: Application Default Credentials, to Google's FCM.

Encoding. The SDK encodes every message on its own, validating each field, a large share of a push's
CPU in the sender (docs/decisions/0019-push-requests-encoded-once.md). The messages of one push differ
only in their token (``messages.to_messages``), so the SDK encodes a push once and the result is reused
for its other devices (``messages.WireEncoder``); what goes on the wire is the same.

Transport. ``pool`` (default): ``transport.SdkHttpClient`` (see there why); ``httpx``: the SDK's own
``HttpxAsyncClient`` without its internal retries, because the sender owns retries. Either way the
SDK's ``send_each_async`` does the sending.
"""

from __future__ import annotations

import asyncio
import itertools
from urllib.parse import urlsplit

import firebase_admin
import google.auth.credentials
from firebase_admin import credentials, messaging

from sinks.fcm.firebase_internals import HttpClient, MessagingService, sdk_http_client
from sinks.fcm.messages import WireEncoder
from sinks.fcm.results import SendResult, from_exception, from_sdk
from sinks.fcm.settings import FcmSettings

FCM_ORIGIN = "https://fcm.googleapis.com"
SEND_MAX = 500  # messages per send_each_async call, the SDK's limit
_apps = itertools.count(1)


class FixedTokenCredentials(google.auth.credentials.Credentials):
    """A Google credential for local endpoints: always valid, refresh does nothing."""

    def __init__(self, token: str = "herald-local-emulator") -> None:
        super().__init__()
        self.token = token

    def refresh(self, request) -> None:
        """Nothing to fetch: the local endpoint accepts any bearer token."""


class _LocalCredential(credentials.Base):
    def __init__(self) -> None:
        self._credential = FixedTokenCredentials()

    def get_credential(self):
        return self._credential


def _credential(settings: FcmSettings) -> credentials.Base:
    path = settings.fcm_credentials.get_secret_value() if settings.fcm_credentials else None
    if path:
        return credentials.Certificate(path)
    if settings.fcm_endpoint:
        return _LocalCredential()
    if settings.fcm_project_id == "herald-local":
        raise ValueError(
            "sending to Google's FCM needs HERALD_FCM_PROJECT_ID (your Firebase project), "
            "or set HERALD_FCM_ENDPOINT to use the local emulator"
        )
    return credentials.ApplicationDefault()


class FcmClient:
    """Sends lists of ``messaging.Message`` through firebase-admin; built once at start-up.

    ``send`` blocks the calling thread while the batch goes out concurrently on this client's own
    event loop (chunks of at most 500, all chunks at once, bounded by the connection pool).
    """

    def __init__(self, settings: FcmSettings) -> None:
        self._loop = _new_loop()
        self._app = firebase_admin.initialize_app(
            _credential(settings),
            {"projectId": settings.fcm_project_id, "httpTimeout": settings.fcm_timeout_s},
            name=f"herald-push-{next(_apps)}",
        )
        origin = (settings.fcm_endpoint or FCM_ORIGIN).rstrip("/")
        self._service = MessagingService(
            self._app,
            send_url=f"{origin}/v1/projects/{settings.fcm_project_id}/messages:send",
            http_client=_http_client(settings, self._app.credential.get_credential(), origin),
            encoder=WireEncoder(),
        )

    def send(self, messages: list[messaging.Message]) -> list[SendResult]:
        """One result per message, in order. Never raises for a failed send: failures are results."""
        if not messages:
            return []
        self._service.encoder = WireEncoder()  # matches parts by identity: a fresh one per list, which keeps them alive
        return self._loop.run_until_complete(self._send_all(messages))

    async def _send_all(self, messages: list[messaging.Message]) -> list[SendResult]:
        chunks = [messages[i : i + SEND_MAX] for i in range(0, len(messages), SEND_MAX)]
        answers = await asyncio.gather(*(self._send_chunk(chunk) for chunk in chunks))
        return [result for chunk in answers for result in chunk]

    async def _send_chunk(self, chunk: list[messaging.Message]) -> list[SendResult]:
        try:
            batch = await self._service.send_each(chunk)
        except Exception as exc:  # the SDK wraps anything unexpected in UnknownError: every send failed
            return [from_exception(exc)] * len(chunk)
        return [from_sdk(response) for response in batch.responses]

    def close(self) -> None:
        """Closes the connections and the event loop; called once at shutdown."""
        try:
            self._loop.run_until_complete(self._service.aclose())
        finally:
            self._loop.close()
            firebase_admin.delete_app(self._app)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it is, with uvicorn[standard]): its socket writes and reads cost less
    than asyncio's selector loop, and every push is one request on a keep-alive connection."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _http_client(settings: FcmSettings, credential: google.auth.credentials.Credentials, origin: str) -> HttpClient:
    if settings.fcm_transport == "httpx":
        return sdk_http_client(credential, timeout_s=settings.fcm_timeout_s, http2=urlsplit(origin).scheme == "https")
    from sinks.fcm.transport import SdkHttpClient

    return SdkHttpClient(credential, origin, size=settings.fcm_connections, timeout_s=settings.fcm_timeout_s)
