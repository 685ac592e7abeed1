"""Reading firebase-admin's results (errors, Retry-After), without a server."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from firebase_admin import exceptions

from sinks.fcm.results import from_exception, parse_retry_after

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def fcm_error(status: int, code: str | None, *, retry_after: str | None = None, field: str | None = None):
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}] if code else []
    if field:
        details.append({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": field}]})
    headers = {"Retry-After": retry_after} if retry_after else {}
    response = httpx.Response(
        status,
        json={"error": {"code": status, "message": "x", "details": details}},
        headers=headers,
        request=httpx.Request("POST", "http://fcm"),
    )
    return exceptions.FirebaseError("X", "x", http_response=response)


@pytest.mark.parametrize(
    "exc, code, status, retry_after, names_token",
    [
        (fcm_error(404, "UNREGISTERED"), "UNREGISTERED", 404, None, False),
        (fcm_error(400, "INVALID_ARGUMENT", field="message.token"), "INVALID_ARGUMENT", 400, None, True),
        (fcm_error(400, "INVALID_ARGUMENT", field="message.data"), "INVALID_ARGUMENT", 400, None, False),
        (fcm_error(429, "QUOTA_EXCEEDED", retry_after="2"), "QUOTA_EXCEEDED", 429, 2.0, False),
        (fcm_error(503, None), "UNAVAILABLE", 503, None, False),  # no FcmError detail: from the HTTP status
        (exceptions.UnavailableError("connection refused"), "UNAVAILABLE", None, None, False),
        (exceptions.DeadlineExceededError("timed out"), "DEADLINE_EXCEEDED", None, None, False),
    ],
)
def test_from_exception(exc, code, status, retry_after, names_token):
    result = from_exception(exc)

    assert (result.code, result.http_status, result.retry_after_s, result.names_token) == (
        code,
        status,
        retry_after,
        names_token,
    )
    assert not result.ok


@pytest.mark.parametrize(
    "value, seconds",
    [
        (None, None),
        ("", None),
        ("2", 2.0),
        (" 30 ", 30.0),
        ("soon", None),
        ("Sat, 01 Mar 2025 12:00:10 GMT", 10.0),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, now=NOW.timestamp()) == seconds
