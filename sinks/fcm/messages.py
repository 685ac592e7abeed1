"""A push payload as firebase-admin ``Message``s, one per device (the SDK validates and encodes them).

The messages of one payload share their parts (notification, data, Android and APNs configs): only the
token differs, so ``WireEncoder`` has the SDK encode one of them and reuses the result for the others.
"""

from __future__ import annotations

import warnings
from typing import TypeAlias

from firebase_admin import messaging

from sinks.fcm.firebase_internals import encode_message

# firebase-admin 7 marks Message.token deprecated in favour of installation ids (fid); FCM HTTP v1
# still addresses a device by registration token, which is what apps register with Herald.
warnings.filterwarnings("ignore", message="Message.token is deprecated", category=DeprecationWarning)

INTERRUPTION_LEVEL, TIME_SENSITIVE = "interruption-level", "time-sensitive"  # APNs aps keys (iOS 15+)
FcmMessage: TypeAlias = messaging.Message  # what callers outside sinks/fcm name, so firebase-admin stays imported here


def to_messages(payload, tokens: list[str]) -> list[FcmMessage]:
    """One message per token, sharing every other part. ``payload`` is a ``processors.push.rules.PushPayload``.
    Android: visibility PRIVATE (no content on the lock screen), collapse key and tag = notification id,
    TTL. APNs: apns-collapse-id = notification id, apns-expiration = the same TTL, priority 10 for
    HIGH/URGENT, else 5; a time-sensitive payload (an alert) also gets ``aps.interruption-level``
    "time-sensitive", so iOS shows it at once, through a Focus mode and outside the scheduled summary (Android has no such
    level: its high priority is what wakes the device)."""
    notification = messaging.Notification(title=payload.title, body=payload.body)
    android = messaging.AndroidConfig(
        collapse_key=payload.collapse_key,
        priority="high" if payload.high_priority else "normal",
        ttl=payload.ttl_s,
        notification=messaging.AndroidNotification(visibility="private", tag=payload.collapse_key),
    )
    apns = messaging.APNSConfig(
        headers={
            "apns-collapse-id": payload.collapse_key,
            "apns-priority": "10" if payload.high_priority else "5",
            "apns-expiration": str(payload.expires_at),
        },
        payload=_time_sensitive_aps() if payload.time_sensitive else None,
    )
    return [
        messaging.Message(token=token, notification=notification, data=payload.data, android=android, apns=apns)
        for token in tokens
    ]


def _time_sensitive_aps() -> messaging.APNSPayload:
    """firebase-admin's ``Aps`` has no field for the interruption level (iOS 15): it goes in as custom data."""
    return messaging.APNSPayload(aps=messaging.Aps(custom_data={INTERRUPTION_LEVEL: TIME_SENSITIVE}))


def to_message(payload, token: str) -> messaging.Message:
    return to_messages(payload, [token])[0]


class WireEncoder:
    """The SDK's encoding of a list of messages, once per group of messages that differ only in their
    token (``to_messages``): the SDK encodes the group's first message (validating every field), the
    others are that result with their own token. The parts are matched by identity, so the encoder
    lives for one list (the caller keeps the messages alive meanwhile). A message addressed otherwise
    than by token is encoded by the SDK on its own."""

    __slots__ = ("_encoded",)

    def __init__(self) -> None:
        self._encoded: dict[tuple, dict] = {}

    def __call__(self, message: messaging.Message) -> dict:
        token = message.token
        if not (isinstance(token, str) and token) or message.topic or message.condition or message.fid:
            return encode(message)
        key = (
            id(message.notification),
            id(message.data),
            id(message.android),
            id(message.apns),
            id(message.webpush),
            id(message.fcm_options),
        )
        template = self._encoded.get(key)
        if template is None:
            template = self._encoded[key] = encode(message)
            return template
        return {**template, "token": token}


def encode(message: messaging.Message) -> dict:
    """The JSON the SDK sends for ``message`` (tests and the benchmark's bare client use it)."""
    return encode_message(message)
