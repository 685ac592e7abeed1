"""The push sender's pure rules: payloads, token choice, result classification, retry decisions."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from processors.push.rules import (
    PushPolicy,
    Send,
    Verdict,
    classify,
    decide,
    payload_for,
    retry_delay,
    select_tokens,
)
from sinks.fcm.results import SendResult
from sinks.postgres.tokens import DeviceToken
from streams.messages import Priority, PushRequest

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
POLICY = PushPolicy(max_attempts=4, retry_base_s=2.0, retry_cap_s=60.0, ttl_s=3600)
NID = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


def request(**overrides) -> PushRequest:
    fields = dict(
        notification_id=NID,
        user_id="u1",
        organization_id="org-1",
        event_type="LAB_RESULT_RECEIVED",
        priority=Priority.NORMAL,
        occurred_at=NOW,
        requested_at=NOW,
        resource_type="Observation",
        resource_id="observation-1f",
    )
    return PushRequest(**{**fields, **overrides})


def token(name: str, seen_days_ago: float = 1, failures: int = 0) -> DeviceToken:
    seen = NOW - timedelta(days=seen_days_ago)
    return DeviceToken(name, "u1", "android", seen - timedelta(days=1), seen, failures)


OK = SendResult(message_id="projects/p/messages/1")


def err(code: str, status: int | None = 400, retry_after: float | None = None, names_token: bool = False) -> SendResult:
    return SendResult(code=code, http_status=status, retry_after_s=retry_after, names_token=names_token)


# --- payload ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, event_type, count, priority, title, high",
    [
        ("event", "LAB_RESULT_RECEIVED", 0, Priority.NORMAL, "New lab result", False),
        ("event", "LAB_RESULT_CRITICAL", 0, Priority.URGENT, "Critical lab result", True),
        ("event", "APPOINTMENT_SCHEDULED", 0, Priority.HIGH, "New appointment", True),
        ("event", "SOMETHING_NEW", 0, Priority.LOW, "New activity", False),  # unknown type: generic text
        ("digest", "DIGEST", 7, Priority.NORMAL, "7 updates", False),
        ("digest", "DIGEST", 1, Priority.NORMAL, "1 update", False),
    ],
)
def test_payload_text_priority_and_data(kind, event_type, count, priority, title, high):
    payload = payload_for(
        request(kind=kind, event_type=event_type, digest_count=count, priority=priority), now=NOW, ttl_s=3600
    )

    assert payload.title == title and payload.high_priority is high
    assert payload.collapse_key == str(NID)
    assert payload.data["notification_id"] == str(NID) and payload.data["event_type"] == event_type
    assert all(isinstance(v, str) for v in payload.data.values())
    assert payload.expires_at == int(NOW.timestamp()) + 3600
    assert ("count" in payload.data) is (kind == "digest")


def test_payload_carries_ids_and_types_only():
    payload = payload_for(request(), now=NOW, ttl_s=60)

    assert set(payload.data) == {"notification_id", "event_type", "kind", "resource_type", "resource_id"}
    assert payload.body == "Open Herald to view it."


@pytest.mark.parametrize(
    "event_type, title", [("LAB_RESULT_CRITICAL", "Critical lab result"), ("NEW_TYPE", "New activity")]
)
@pytest.mark.parametrize("priority", [Priority.URGENT, Priority.NORMAL])
def test_an_alert_push_asks_for_acknowledgement_high_priority_and_time_sensitive(event_type, title, priority):
    payload = payload_for(request(kind="alert", event_type=event_type, priority=priority), now=NOW, ttl_s=60)

    assert (payload.title, payload.body) == (title, "Open Herald to acknowledge it.")
    assert payload.high_priority is True and payload.time_sensitive is True
    assert set(payload.data) == {"notification_id", "event_type", "kind", "resource_type", "resource_id"}
    assert payload.data["kind"] == "alert"


@pytest.mark.parametrize("kind, priority", [("event", Priority.URGENT), ("digest", Priority.HIGH)])
def test_only_alert_pushes_are_time_sensitive(kind, priority):
    payload = payload_for(request(kind=kind, event_type="LAB_RESULT_CRITICAL", priority=priority), now=NOW, ttl_s=60)

    assert payload.high_priority is True and payload.time_sensitive is False
    assert "acknowledge" not in payload.body


# --- tokens -----------------------------------------------------------------------------------------


def test_select_tokens_newest_first_without_duplicates_or_stale_ones():
    tokens = [token("old", 30), token("new", 1), token("new", 2), token("stale", 300), token("mid", 10)]

    chosen = select_tokens(tokens, now=NOW, max_age=timedelta(days=270))

    assert [t.token for t in chosen] == ["new", "mid", "old"]


# --- classification ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "result, verdict",
    [
        (OK, Verdict.SENT),
        (err("UNREGISTERED", 404), Verdict.RETIRE),
        (err("INVALID_ARGUMENT", 400, names_token=True), Verdict.RETIRE),
        (err("INVALID_ARGUMENT", 400), Verdict.PERMANENT),  # a bad message, not a bad token
        (err("NOT_FOUND", 404), Verdict.PERMANENT),  # no UNREGISTERED detail: never retire on it
        (err("UNAVAILABLE", 503), Verdict.RETRY),
        (err("INTERNAL", 500), Verdict.RETRY),
        (err("QUOTA_EXCEEDED", 429, retry_after=2), Verdict.RETRY),
        (err("UNAVAILABLE", None), Verdict.RETRY),  # connection refused
        (err("DEADLINE_EXCEEDED", None), Verdict.RETRY),
        (err("SENDER_ID_MISMATCH", 403), Verdict.PERMANENT),
        (err("THIRD_PARTY_AUTH_ERROR", 401), Verdict.PERMANENT),
        (err("PERMISSION_DENIED", 403), Verdict.PERMANENT),
    ],
)
def test_classify(result, verdict):
    assert classify(result) is verdict


# --- retry decisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attempt, retry_after, low, high",
    [
        (1, None, 1.0, 2.0),  # base 2 s with equal jitter: [1, 2]
        (2, None, 2.0, 4.0),
        (3, None, 4.0, 8.0),
        (10, None, 30.0, 60.0),  # capped at 60 s
        (1, 2.0, 2.0, 2.0),  # Retry-After 2 s beats a backoff of at most 2 s
        (1, 90.0, 90.0, 90.0),  # Retry-After is honoured even above the cap
    ],
)
def test_retry_delay(attempt, retry_after, low, high):
    for seed in range(20):
        assert low <= retry_delay(attempt, retry_after, POLICY, random.Random(seed)) <= high


@pytest.mark.parametrize(
    "results, attempt, had_devices, bell, retry, give_up",
    [
        ([OK, OK], 1, True, "sent", False, None),
        ([OK, err("UNREGISTERED", 404)], 1, True, "sent", False, None),
        ([err("UNREGISTERED", 404)], 1, True, "no_devices", False, None),
        ([], 1, False, "no_devices", False, None),
        ([], 1, True, None, False, None),  # every device already had it (redelivery)
        ([err("UNAVAILABLE", 503)], 1, True, "retrying", True, None),
        ([OK, err("INTERNAL", 500)], 2, True, "sent", True, None),  # the other device is retried
        ([err("UNAVAILABLE", 503)], 4, True, "failed", False, "exhausted"),
        ([OK, err("QUOTA_EXCEEDED", 429)], 4, True, "sent", False, "exhausted"),
        ([err("SENDER_ID_MISMATCH", 403)], 1, True, "failed", False, "permanent"),
        ([err("SENDER_ID_MISMATCH", 403), err("UNAVAILABLE", 503)], 1, True, "failed", False, "permanent"),
    ],
)
def test_decide(results, attempt, had_devices, bell, retry, give_up):
    sends = [Send(token(f"t{i}"), r) for i, r in enumerate(results)]

    decision = decide(sends, attempt=attempt, had_devices=had_devices, now=NOW, policy=POLICY, rng=random.Random(1))

    assert decision.bell_status == bell
    assert (decision.retry is not None) is retry
    kind = None if decision.give_up is None else ("exhausted" if decision.give_up.retries_exhausted else "permanent")
    assert kind == give_up
    if decision.give_up:
        assert decision.give_up.attempts == attempt and decision.give_up.code in decision.give_up.reason


def test_a_retry_is_due_no_sooner_than_retry_after():
    sends = [Send(token("t"), err("QUOTA_EXCEEDED", 429, retry_after=2))]

    decision = decide(
        sends, attempt=1, had_devices=True, now=NOW, policy=PushPolicy(retry_base_s=0.1), rng=random.Random(3)
    )

    assert decision.retry.due_at >= NOW + timedelta(seconds=2)
    assert decision.retry.attempt == 1 and decision.retry.last_error == "QUOTA_EXCEEDED"
