"""The push sender's processor hands its sink the urgent alerts FCM accepted a push of, and no others."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone

import pytest

import processors.push.app as app
from processors.push.app import PushSender
from processors.push.rules import PushPolicy
from sinks.fcm.results import SendResult
from sinks.postgres.tokens import DeviceToken
from streams.messages import Priority, PushRequest
from streams.records import Record
from streams.testing import FakeMessage

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
OK = SendResult(message_id="projects/p/messages/1")


class Reader:
    def connect(self):
        return nullcontext(None)


class Fcm:
    """Answers each message by its token: a token starting with "gone" is UNREGISTERED, "down" UNAVAILABLE."""

    def send(self, messages):
        return [self.answer(m.token) for m in messages]

    @staticmethod
    def answer(token: str) -> SendResult:
        if token.startswith("gone"):
            return SendResult(code="UNREGISTERED", http_status=404)
        if token.startswith("down"):
            return SendResult(code="UNAVAILABLE", http_status=503)
        return OK


@pytest.fixture
def sender(monkeypatch):
    devices = {
        "ok-user": ["ok-1"],
        "gone-user": ["gone-1"],
        "down-user": ["down-1"],
        "mixed-user": ["gone-2", "ok-2"],
    }
    tokens = {
        user: [DeviceToken(t, user, "ios", NOW - timedelta(days=2), NOW - timedelta(days=1)) for t in names]
        for user, names in devices.items()
    }
    monkeypatch.setattr(app, "active_tokens", lambda conn, users, now, max_age: {u: tokens[u] for u in users})
    monkeypatch.setattr(app, "sent_pairs", lambda conn, ids: set())
    return PushSender(reader=Reader(), fcm=Fcm(), encode=lambda r: b"", policy=PushPolicy(), clock=lambda: NOW)


def request(user: str, event_id: uuid.UUID, kind: str = "alert") -> PushRequest:
    return PushRequest(
        uuid.uuid4(), user, "org-1", "LAB_RESULT_CRITICAL", Priority.URGENT, NOW, NOW, kind=kind, event_id=event_id
    )


def handle(sender: PushSender, requests: list[PushRequest]):
    return sender.handle([Record(r, FakeMessage("push", 0, i, b"")) for i, r in enumerate(requests)]).writes


def test_an_alert_counts_as_accepted_when_fcm_accepted_one_of_its_pushes(sender):
    accepted, mixed, refused, later, plain = (uuid.uuid4() for _ in range(5))

    writes = handle(
        sender,
        [
            request("ok-user", accepted),
            request("mixed-user", mixed),  # one device retired, the other reached
            request("gone-user", refused),
            request("down-user", later),  # to be retried: not accepted yet
            request("ok-user", plain, kind="event"),  # the event's ordinary push, not the alert's
        ],
    )

    assert writes.accepted_alerts == {accepted, mixed}
    assert writes.now == NOW


def test_a_request_without_an_event_id_is_not_an_alert_to_record(sender):
    writes = handle(sender, [request("ok-user", None)])  # type: ignore[arg-type]

    assert writes.accepted_alerts == set()
    assert [d.status for d in writes.deliveries] == ["sent"]
