"""One FCM send's result as plain data, read off firebase-admin's ``SendResponse``.

The push rules classify a ``SendResult`` (retire, retry, dead-letter); nothing past this module
sees an SDK exception. Codes are FCM's ``FcmError`` codes (UNREGISTERED, QUOTA_EXCEEDED …) when the
error body names one, else the google.rpc status (UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED …).
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
_STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "QUOTA_EXCEEDED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True, slots=True)
class SendResult:
    """``message_id`` on success; else the error ``code``, the HTTP status (None: no answer at all),
    FCM's Retry-After in seconds, and whether an INVALID_ARGUMENT names the registration token."""

    message_id: str | None = None
    code: str | None = None
    http_status: int | None = None
    retry_after_s: float | None = None
    names_token: bool = False

    @property
    def ok(self) -> bool:
        return self.message_id is not None and self.code is None


def from_sdk(response) -> SendResult:
    """Called for each ``SendResponse`` of ``send_each_async``."""
    if response.success:
        return SendResult(message_id=response.message_id)
    return from_exception(response.exception)


def from_exception(exc) -> SendResult:
    """A FirebaseError (or anything else raised while sending) as a SendResult."""
    http = getattr(exc, "http_response", None)
    if http is None:
        return SendResult(code=str(getattr(exc, "code", None) or "UNKNOWN"))
    error = _error_body(http.content)
    code = (
        _fcm_code(error)
        or error.get("status")
        or _STATUS_CODES.get(http.status_code)
        or str(getattr(exc, "code", "UNKNOWN"))
    )
    return SendResult(
        code=code,
        http_status=http.status_code,
        retry_after_s=parse_retry_after(http.headers.get("retry-after")),
        names_token=_names_token(error),
    )


def _error_body(content: bytes) -> dict:
    try:
        body = json.loads(content or b"{}")
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _fcm_code(error: dict) -> str | None:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == FCM_ERROR_TYPE:
            return detail.get("errorCode")
    return None


def _names_token(error: dict) -> bool:
    """FCM names the token of an INVALID_ARGUMENT in a BadRequest field violation or in its message."""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == BAD_REQUEST_TYPE:
            if any(v.get("field") == "message.token" for v in detail.get("fieldViolations") or []):
                return True
    return "registration token" in str(error.get("message", "")).lower()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)
