"""What the emulator answers: FCM HTTP v1 validation, error bodies, scripted faults, the record.

No sockets here (``server.py`` has them), so the protocol rules are unit-testable. Behaviour follows
FCM's documentation of ``projects.messages.send`` and its ``google.firebase.fcm.v1.FcmError`` codes:

| FcmError code          | HTTP | google.rpc status   |
|------------------------|------|---------------------|
| INVALID_ARGUMENT       | 400  | INVALID_ARGUMENT    |
| THIRD_PARTY_AUTH_ERROR | 401  | UNAUTHENTICATED     |
| SENDER_ID_MISMATCH     | 403  | PERMISSION_DENIED   |
| UNREGISTERED           | 404  | NOT_FOUND           |
| QUOTA_EXCEEDED         | 429  | RESOURCE_EXHAUSTED  (with Retry-After) |
| INTERNAL               | 500  | INTERNAL            |
| UNAVAILABLE            | 503  | UNAVAILABLE         |

Payload size: FCM limits a message's payload to 4096 bytes; the emulator measures the JSON of the
message without its target (``token``/``topic``/``condition``), which is what the app receives.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field, replace

PAYLOAD_MAX = 4096
_COMPACT_UTF8 = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False
)  # built once: json.dumps with options builds one per call
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERRORS = {  # FcmError code -> (HTTP status, google.rpc status, message)
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
}
_TARGETS = ("token", "topic", "condition")
_MESSAGE_FIELDS = {"name", "data", "notification", "android", "webpush", "apns", "fcm_options", *_TARGETS}
_RESERVED_DATA = {"from", "notification", "message_type"}
_TOKEN = re.compile(r"^[A-Za-z0-9_:\-.]{8,4096}$")
_DURATION = re.compile(r"^\d+(\.\d{1,9})?s$")
_VISIBILITY = {"VISIBILITY_UNSPECIFIED", "PRIVATE", "PUBLIC", "SECRET"}
_PRIORITY = {"normal", "high"}
# APNs' interruption levels (iOS 15); FCM passes apns.payload on, and a level outside these is refused.
_INTERRUPTION_LEVELS = {"passive", "active", "time-sensitive", "critical"}


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, JSON body, extra headers."""

    status: int
    body: dict
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # scripted latency: answer after this long


class Invalid(Exception):
    """A request FCM would refuse with INVALID_ARGUMENT; ``field`` names the violating field."""

    def __init__(self, message: str, field: str = "message") -> None:
        super().__init__(message)
        self.field = field


def error_reply(
    code: str, message: str | None = None, *, field: str | None = None, retry_after: float | None = None
) -> Reply:
    """FCM's error body for an FcmError ``code`` (google.rpc.Status with FcmError details)."""
    status, rpc_status, default = ERRORS[code]
    details: list[dict] = [{"@type": FCM_ERROR_TYPE, "errorCode": code}]
    if field:
        details.append(
            {"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"field": field, "description": message or default}]}
        )
    body = {"error": {"code": status, "message": message or default, "status": rpc_status, "details": details}}
    headers = (("Retry-After", _retry_after_text(retry_after)),) if retry_after is not None else ()
    return Reply(status, body, headers)


def _retry_after_text(seconds: float) -> str:
    return str(max(int(round(seconds)), 0))


def unauthenticated() -> Reply:
    """What FCM answers a request without an OAuth bearer token."""
    return Reply(
        401,
        {
            "error": {
                "code": 401,
                "status": "UNAUTHENTICATED",
                "message": "Request is missing required authentication credential.",
            }
        },
    )


def validate(body: bytes) -> tuple[dict, bool]:
    """The ``message`` of a send request and its ``validate_only`` flag; raises Invalid like FCM."""
    try:
        request = json.loads(body)
    except ValueError:
        raise Invalid("Invalid JSON payload received.") from None
    if not isinstance(request, dict) or not isinstance(request.get("message"), dict):
        raise Invalid("Invalid JSON payload received. 'message' is required.")
    unknown = set(request) - {"message", "validate_only"}
    if unknown:
        raise Invalid(f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}.")
    message = request["message"]
    _check_message(message, len(body))
    return message, bool(request.get("validate_only"))


def _check_message(message: dict, body_size: int) -> None:
    unknown = set(message) - _MESSAGE_FIELDS
    if unknown:
        raise Invalid(f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r} at 'message'.")
    targets = [t for t in _TARGETS if message.get(t) is not None]
    if len(targets) != 1:
        raise Invalid("Exactly one of token, topic or condition must be specified.")
    if "token" in targets and not (isinstance(message["token"], str) and _TOKEN.match(message["token"])):
        raise Invalid("The registration token is not a valid FCM registration token", "message.token")
    _check_data(message.get("data"))
    _check_strings(message.get("notification"), "message.notification")
    _check_android(message.get("android"))
    _check_apns(message.get("apns"))
    if body_size > PAYLOAD_MAX // 2 and payload_size(message) > PAYLOAD_MAX:  # see payload_size
        raise Invalid(f"Message is too big: payload must be at most {PAYLOAD_MAX} bytes.", "message")


def payload_size(message: dict) -> int:
    """Bytes of the message as the device gets it (the JSON without its target).

    Only measured for request bodies over half the limit: the compact re-encoding of a part of the
    body is no longer than the body itself (short of numbers written like ``1e15``), so a smaller body
    cannot hold a too-big message, and re-encoding every send was a fifth of the emulator's CPU."""
    rest = {k: v for k, v in message.items() if k not in _TARGETS}
    return len(_COMPACT_UTF8.encode(rest).encode())


def _check_data(data) -> None:
    if data is None:
        return
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise Invalid("Invalid value at 'message.data': data values must be strings.", "message.data")
    for key in data:
        if key in _RESERVED_DATA or key.startswith(("google.", "gcm.")):
            raise Invalid(f"Invalid data payload key: {key}", "message.data")


def _check_strings(obj, where: str) -> None:
    if obj is None:
        return
    if not isinstance(obj, dict):
        raise Invalid(f"Invalid value at '{where}'.", where)
    for key, value in obj.items():
        if not isinstance(value, (str, list, dict, bool, int)):
            raise Invalid(f"Invalid value at '{where}.{key}'.", f"{where}.{key}")


def _check_android(android) -> None:
    if android is None:
        return
    _check_strings(android, "message.android")
    if "priority" in android and str(android["priority"]).lower() not in _PRIORITY:
        raise Invalid("Invalid value at 'message.android.priority'.", "message.android.priority")
    if "ttl" in android and not (isinstance(android["ttl"], str) and _DURATION.match(android["ttl"])):
        raise Invalid("Invalid value at 'message.android.ttl' (a duration such as '3600s').", "message.android.ttl")
    visibility = (android.get("notification") or {}).get("visibility")
    if visibility is not None and str(visibility).upper() not in _VISIBILITY:
        raise Invalid(
            "Invalid value at 'message.android.notification.visibility'.", "message.android.notification.visibility"
        )


def _check_apns(apns) -> None:
    if apns is None:
        return
    headers = apns.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise Invalid("Invalid value at 'message.apns.headers'.", "message.apns.headers")
    if len(headers.get("apns-collapse-id", "")) > 64:
        raise Invalid("apns-collapse-id must be at most 64 bytes.", "message.apns.headers")
    payload = apns.get("payload")
    if payload is None:
        return
    aps = payload.get("aps") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(aps, (dict, type(None))):
        raise Invalid("Invalid value at 'message.apns.payload'.", "message.apns.payload")
    if aps is not None and "interruption-level" in aps and aps["interruption-level"] not in _INTERRUPTION_LEVELS:
        where = "message.apns.payload.aps.interruption-level"
        raise Invalid(
            f"Invalid value at '{where}': one of {', '.join(sorted(_INTERRUPTION_LEVELS))}.",
            where,
        )


def delivery(message: dict) -> dict:
    """How a device treats ``message``, as sent (None where the message leaves it to FCM or the device):
    Android priority, APNs priority and iOS interruption level."""
    apns = message.get("apns") or {}
    aps = (apns.get("payload") or {}).get("aps") or {}
    priority = (message.get("android") or {}).get("priority")
    return {
        "android_priority": None if priority is None else str(priority).lower(),
        "apns_priority": (apns.get("headers") or {}).get("apns-priority"),
        "interruption_level": aps.get("interruption-level"),
    }


# --- faults -----------------------------------------------------------------------------------------


@dataclass
class Fault:
    """A scripted misbehaviour, for one token or (token None) every send.

    ``code`` None means latency only; ``times`` None means until cleared; ``rate`` is the chance that
    a matching send gets the error.
    """

    token: str | None = None
    code: str | None = None
    times: int | None = None
    rate: float = 1.0
    latency_ms: float = 0.0
    retry_after: float | None = None

    @classmethod
    def from_json(cls, d: dict) -> "Fault":
        code = d.get("code")
        if code is not None and code not in ERRORS:
            raise ValueError(f"unknown FcmError code {code!r}; one of {', '.join(ERRORS)}")
        rate = float(d.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        times = d.get("times")
        return cls(
            d.get("token"),
            code,
            None if times is None else int(times),
            rate,
            float(d.get("latency_ms", 0.0)),
            None if d.get("retry_after") is None else float(d["retry_after"]),
        )


@dataclass
class Emulator:
    """The emulator's state: faults, accepted messages and every send attempt (thread-safe).

    Each accepted message is kept as the request body it came in (``bytes``), in a dict of atomic
    values, and parsed again only when read (``accepted``). Such a dict is never tracked by Python's
    cyclic garbage collector; a parsed Herald push (eight nested containers) is. Kept parsed, a
    benchmark's tens of thousands of pushes made every full collection walk hundreds of thousands of
    containers, pauses during which no push was answered (docs/decisions/0035-emulator-keeps-bytes.md).
    """

    rng: random.Random = field(default_factory=random.Random)
    faults: list[Fault] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)  # {name, project, token, body: bytes, received_at}
    attempts: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: int = 0

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self, token: str | None = None) -> None:
        with self.lock:
            self.faults = [f for f in self.faults if token is not None and f.token != token]

    def clear_messages(self) -> None:
        with self.lock:
            self.messages.clear()
            self.attempts.clear()

    def latency_s(self, token: str | None) -> float:
        """Seconds to wait before answering a send to ``token`` (the largest matching latency)."""
        return max((f.latency_ms for f in self.faults if f.token in (None, token)), default=0.0) / 1000

    def send(self, project: str, body: bytes, authorized: bool) -> Reply:
        """Answers one ``messages:send``: validation, then a scripted fault, else accept and record."""
        if not authorized:
            return unauthenticated()
        try:
            message, validate_only = validate(body)
        except Invalid as exc:
            return self._attempt(None, error_reply("INVALID_ARGUMENT", str(exc), field=exc.field))
        token = message.get("token")
        reply = self._answer(project, message, body, validate_only)
        return replace(reply, delay_s=self.latency_s(token)) if self.faults else reply

    def _answer(self, project: str, message: dict, body: bytes, validate_only: bool) -> Reply:
        token = message.get("token")
        fault = self._fault_for(token) if self.faults else None
        if fault is not None:
            return self._attempt(token, error_reply(fault.code, retry_after=fault.retry_after, **_field_of(fault.code)))
        if validate_only:
            return Reply(200, {"name": f"projects/{project}/messages/fake_message_id"})
        return self._accept(project, message, body)

    def _fault_for(self, token: str | None) -> Fault | None:
        with self.lock:
            for fault in sorted(self.faults, key=lambda f: f.token is None):  # a token's own faults first
                if fault.code is None or fault.token not in (None, token) or fault.times == 0:
                    continue
                if fault.rate < 1.0 and self.rng.random() >= fault.rate:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _accept(self, project: str, message: dict, body: bytes) -> Reply:
        with self.lock:
            self._sequence += 1
            name = f"projects/{project}/messages/0:{time.time_ns() // 1000}%{self._sequence:012x}"
            now = time.time()
            self.messages.append(
                {"name": name, "project": project, "token": message.get("token"), "body": body, "received_at": now}
            )
            self.attempts.append({"token": message.get("token"), "code": "OK", "at": now})
        return Reply(200, {"name": name})

    def _attempt(self, token: str | None, reply: Reply) -> Reply:
        code = reply.body["error"]["details"][0]["errorCode"]
        with self.lock:
            self.attempts.append({"token": token, "code": code, "at": time.time()})
        return reply

    def accepted(self, token: str | None = None) -> list[dict]:
        """Accepted messages, oldest first (all, or those to ``token``): name, project, token, the
        ``message`` as sent, its ``delivery`` (priorities and interruption level), received_at."""
        with self.lock:
            rows = [r for r in self.messages if token is None or r["token"] == token]
        accepted = []
        for r in rows:
            message = json.loads(r["body"])["message"]
            accepted.append(
                {
                    "name": r["name"],
                    "project": r["project"],
                    "token": r["token"],
                    "message": message,
                    "delivery": delivery(message),
                    "received_at": r["received_at"],
                }
            )
        return accepted

    def stats(self) -> dict:
        with self.lock:
            by_code: dict[str, int] = {}
            for a in self.attempts:
                by_code[a["code"]] = by_code.get(a["code"], 0) + 1
            return {
                "accepted": len(self.messages),
                "attempts": len(self.attempts),
                "by_code": by_code,
                "faults": len(self.faults),
            }


def _field_of(code: str) -> dict:
    """A scripted INVALID_ARGUMENT names the token, as FCM does for a malformed registration token."""
    if code == "INVALID_ARGUMENT":
        return {"field": "message.token", "message": "The registration token is not a valid FCM registration token"}
    return {}
