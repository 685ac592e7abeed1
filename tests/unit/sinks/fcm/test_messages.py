"""Building firebase-admin's messages from a push payload and encoding them as the SDK does, without a server."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from firebase_admin import messaging

from processors.push.rules import payload_for
from sinks.fcm.messages import WireEncoder, encode, to_message, to_messages
from streams.messages import Priority, PushRequest

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def test_the_message_is_private_collapsible_and_expires():
    nid = uuid.uuid4()
    request = PushRequest(nid, "u1", "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW)

    wire = encode(to_message(payload_for(request, now=NOW, ttl_s=600), "tok-abcdefgh"))

    assert wire["token"] == "tok-abcdefgh"
    assert wire["notification"] == {"title": "Critical lab result", "body": "Open Herald to view it."}
    assert wire["android"]["notification"]["visibility"] == "PRIVATE"
    assert wire["android"]["collapse_key"] == str(nid) and wire["android"]["ttl"] == "600s"
    assert wire["android"]["priority"] == "high"
    assert wire["apns"]["headers"] == {
        "apns-collapse-id": str(nid),
        "apns-priority": "10",
        "apns-expiration": str(int(NOW.timestamp()) + 600),
    }
    assert wire["data"]["notification_id"] == str(nid)


def alert_payload(ttl_s: int = 600):
    request = PushRequest(uuid.uuid4(), "u1", "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW, kind="alert")
    return payload_for(request, now=NOW, ttl_s=ttl_s)


def test_an_alert_is_time_sensitive_on_ios_and_high_priority_on_android():
    wire = encode(to_message(alert_payload(), "tok-abcdefgh"))

    assert wire["apns"]["payload"] == {"aps": {"interruption-level": "time-sensitive"}}
    assert wire["apns"]["headers"]["apns-priority"] == "10"
    assert wire["android"]["priority"] == "high"
    assert wire["notification"] == {"title": "Critical lab result", "body": "Open Herald to acknowledge it."}


def test_other_pushes_leave_the_interruption_level_to_the_device():
    request = PushRequest(uuid.uuid4(), "u1", "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW)

    wire = encode(to_message(payload_for(request, now=NOW, ttl_s=600), "tok-abcdefgh"))

    assert "payload" not in wire["apns"]


def test_alert_and_plain_pushes_encoded_together_keep_their_own_apns_parts():
    plain = payload_for(
        PushRequest(uuid.uuid4(), "u1", "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW), now=NOW, ttl_s=600
    )
    alert = alert_payload()
    messages = (
        to_messages(plain, ["tok-a", "tok-b"]) + to_messages(alert, ["tok-c", "tok-d"]) + to_messages(plain, ["tok-e"])
    )
    wire = WireEncoder()

    encoded = [wire(m) for m in messages]

    assert ["payload" in e["apns"] for e in encoded] == [False, False, True, True, False]
    assert encoded[3] == encode(to_message(alert, "tok-d"))


def test_the_messages_of_one_push_share_their_parts_and_encode_as_the_sdk_does_each():
    payload = payload_for(
        PushRequest(uuid.uuid4(), "u1", "org-1", "APPOINTMENT_BOOKED", Priority.NORMAL, NOW, NOW), now=NOW, ttl_s=600
    )
    other = payload_for(
        PushRequest(uuid.uuid4(), "u2", "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW), now=NOW, ttl_s=60
    )
    messages = to_messages(payload, ["tok-a", "tok-b", "tok-c"]) + to_messages(other, ["tok-d"])
    wire = WireEncoder()

    assert [wire(m) for m in messages] == [encode(to_message(payload, t)) for t in ("tok-a", "tok-b", "tok-c")] + [
        encode(to_message(other, "tok-d"))
    ]
    assert messages[0].android is messages[2].android and messages[0].android is not messages[3].android


def test_the_sdk_encodes_a_push_once_for_all_its_devices(monkeypatch):
    payload = payload_for(
        PushRequest(uuid.uuid4(), "u1", "org-1", "APPOINTMENT_BOOKED", Priority.NORMAL, NOW, NOW), now=NOW, ttl_s=600
    )
    calls = []
    sdk_encode = messaging._MessagingService.encode_message  # noqa: SLF001
    monkeypatch.setattr(
        messaging._MessagingService,
        "encode_message",  # noqa: SLF001
        classmethod(lambda cls, m: calls.append(m.token) or sdk_encode(m)),
    )
    wire = WireEncoder()

    tokens = [wire(m)["token"] for m in to_messages(payload, ["tok-a", "tok-b", "tok-c"])]

    assert tokens == ["tok-a", "tok-b", "tok-c"] and calls == ["tok-a"]


@pytest.mark.parametrize("token", ["", None, 7])
def test_a_bad_token_still_gets_the_sdk_s_error(token):
    payload = payload_for(
        PushRequest(uuid.uuid4(), "u1", "org-1", "APPOINTMENT_BOOKED", Priority.NORMAL, NOW, NOW), now=NOW, ttl_s=600
    )
    first, bad = to_messages(payload, ["tok-a", token])
    wire = WireEncoder()
    wire(first)

    with pytest.raises(ValueError):
        wire(bad)
