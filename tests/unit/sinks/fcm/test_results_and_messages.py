"""Reading firebase-admin's results and building its messages, without a server."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import httpx
import pytest
from firebase_admin import exceptions, messaging

from processors.push.rules import payload_for
from sinks.fcm.messages import WireEncoder, encode, to_message, to_messages
from sinks.fcm.results import from_exception, parse_retry_after
from streams.messages import Priority, PushRequest

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def fcm_error(status: int, code: str | None, *, retry_after: str | None = None, field: str | None = None):
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}] if code else []
    if field:
        details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": field}]})
    headers = {"Retry-After": retry_after} if retry_after else {}
    response = httpx.Response(status, json={"error": {"code": status, "message": "x", "details": details}},
                              headers=headers, request=httpx.Request("POST", "http://fcm"))
    return exceptions.FirebaseError("X", "x", http_response=response)


@pytest.mark.parametrize("exc, code, status, retry_after, names_token", [
    (fcm_error(404, "UNREGISTERED"), "UNREGISTERED", 404, None, False),
    (fcm_error(400, "INVALID_ARGUMENT", field="message.token"), "INVALID_ARGUMENT", 400, None, True),
    (fcm_error(400, "INVALID_ARGUMENT", field="message.data"), "INVALID_ARGUMENT", 400, None, False),
    (fcm_error(429, "QUOTA_EXCEEDED", retry_after="2"), "QUOTA_EXCEEDED", 429, 2.0, False),
    (fcm_error(503, None), "UNAVAILABLE", 503, None, False),  # no FcmError detail: from the HTTP status
    (exceptions.UnavailableError("connection refused"), "UNAVAILABLE", None, None, False),
    (exceptions.DeadlineExceededError("timed out"), "DEADLINE_EXCEEDED", None, None, False),
])
def test_from_exception(exc, code, status, retry_after, names_token):
    result = from_exception(exc)

    assert (result.code, result.http_status, result.retry_after_s, result.names_token) == (code, status, retry_after, names_token)
    assert not result.ok


@pytest.mark.parametrize("value, seconds", [
    (None, None), ("", None), ("2", 2.0), (" 30 ", 30.0), ("soon", None),
    ("Sat, 01 Mar 2025 12:00:10 GMT", 10.0),
])
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, now=NOW.timestamp()) == seconds


def test_the_message_is_private_collapsible_and_expires():
    nid = uuid.uuid4()
    request = PushRequest(nid, "u1", "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW)

    wire = encode(to_message(payload_for(request, now=NOW, ttl_s=600), "tok-abcdefgh"))

    assert wire["token"] == "tok-abcdefgh"
    assert wire["notification"] == {"title": "Critical lab result", "body": "Open Herald to view it."}
    assert wire["android"]["notification"]["visibility"] == "PRIVATE"
    assert wire["android"]["collapse_key"] == str(nid) and wire["android"]["ttl"] == "600s"
    assert wire["android"]["priority"] == "high"
    assert wire["apns"]["headers"] == {"apns-collapse-id": str(nid), "apns-priority": "10",
                                       "apns-expiration": str(int(NOW.timestamp()) + 600)}
    assert wire["data"]["notification_id"] == str(nid)


def test_the_messages_of_one_push_share_their_parts_and_encode_as_the_sdk_does_each():
    payload = payload_for(PushRequest(uuid.uuid4(), "u1", "org-1", "APPOINTMENT_BOOKED", Priority.NORMAL, NOW, NOW),
                          now=NOW, ttl_s=600)
    other = payload_for(PushRequest(uuid.uuid4(), "u2", "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW),
                        now=NOW, ttl_s=60)
    messages = to_messages(payload, ["tok-a", "tok-b", "tok-c"]) + to_messages(other, ["tok-d"])
    wire = WireEncoder()

    assert [wire(m) for m in messages] == [encode(to_message(payload, t)) for t in ("tok-a", "tok-b", "tok-c")] + \
        [encode(to_message(other, "tok-d"))]
    assert messages[0].android is messages[2].android and messages[0].android is not messages[3].android


def test_the_sdk_encodes_a_push_once_for_all_its_devices(monkeypatch):
    payload = payload_for(PushRequest(uuid.uuid4(), "u1", "org-1", "APPOINTMENT_BOOKED", Priority.NORMAL, NOW, NOW),
                          now=NOW, ttl_s=600)
    calls = []
    sdk_encode = messaging._MessagingService.encode_message  # noqa: SLF001
    monkeypatch.setattr(messaging._MessagingService, "encode_message",  # noqa: SLF001
                        classmethod(lambda cls, m: calls.append(m.token) or sdk_encode(m)))
    wire = WireEncoder()

    tokens = [wire(m)["token"] for m in to_messages(payload, ["tok-a", "tok-b", "tok-c"])]

    assert tokens == ["tok-a", "tok-b", "tok-c"] and calls == ["tok-a"]


@pytest.mark.parametrize("token", ["", None, 7])
def test_a_bad_token_still_gets_the_sdk_s_error(token):
    payload = payload_for(PushRequest(uuid.uuid4(), "u1", "org-1", "APPOINTMENT_BOOKED", Priority.NORMAL, NOW, NOW),
                          now=NOW, ttl_s=600)
    first, bad = to_messages(payload, ["tok-a", token])
    wire = WireEncoder()
    wire(first)

    with pytest.raises(ValueError):
        wire(bad)
