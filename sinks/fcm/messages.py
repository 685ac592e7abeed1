"""A push payload for one device as a firebase-admin ``Message`` (the SDK validates and encodes it)."""
from __future__ import annotations

import warnings

from firebase_admin import messaging

# firebase-admin 7 marks Message.token deprecated in favour of installation ids (fid); FCM HTTP v1
# still addresses a device by registration token, which is what apps register with Herald.
warnings.filterwarnings("ignore", message="Message.token is deprecated", category=DeprecationWarning)


def to_message(payload, token: str) -> messaging.Message:
    """``payload`` is a ``processors.push.rules.PushPayload``. Android: visibility PRIVATE (no content
    on the lock screen), collapse key and tag = notification id, TTL. APNs: apns-collapse-id = notification
    id, apns-expiration = the same TTL, priority 10 for HIGH/URGENT, else 5."""
    return messaging.Message(
        token=token,
        notification=messaging.Notification(title=payload.title, body=payload.body),
        data=payload.data,
        android=messaging.AndroidConfig(
            collapse_key=payload.collapse_key, priority="high" if payload.high_priority else "normal",
            ttl=payload.ttl_s, notification=messaging.AndroidNotification(visibility="private", tag=payload.collapse_key)),
        apns=messaging.APNSConfig(headers={
            "apns-collapse-id": payload.collapse_key, "apns-priority": "10" if payload.high_priority else "5",
            "apns-expiration": str(payload.expires_at)}),
    )


def encode(message: messaging.Message) -> dict:
    """The JSON the SDK sends for ``message`` (tests and the benchmark's bare client use it)."""
    return messaging._MessagingService.encode_message(message)  # noqa: SLF001 - the SDK's own encoder
