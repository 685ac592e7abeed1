"""Pure rules of the push sender: which devices, what message, what a result means, when to retry.

No SDK, no DB, no clock: the caller passes the tokens it loaded, the results FCM gave
and ``now``. Policy (docs/push.md):

* devices: the user's active tokens, newest first, each token once; a (notification, token) already
  sent is never sent again (redelivery, replay, retry);
* message: PHI-free title/body from the catalogue (``"N updates"`` for a digest), data = ids and types only;
  an alert's push (kind ``alert``) keeps the catalogue's title, asks for acknowledgement in its body and is
  high priority and time-sensitive whatever its request says (docs/decisions/0184-alert-pushes-time-sensitive.md);
* result: UNREGISTERED, and INVALID_ARGUMENT naming the token, retire the token; UNAVAILABLE, INTERNAL,
  QUOTA_EXCEEDED (and no answer at all) are retried; anything else is permanent;
* request: a permanent error dead-letters the request at once; otherwise transient errors schedule
  attempt n+1 after ``compute_backoff(n)`` (never sooner than Retry-After) until ``max_attempts``, then
  dead-letter. Devices already reached keep their push either way.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from processors.catalogue import lookup
from processors.notifications.alerts import ALERT_PUSH_KIND
from processors.notifications.digests import digest_text
from sinks.fcm.results import SendResult
from sinks.postgres.tokens import DeviceToken
from streams.messages import Priority, PushRequest
from streams.retry import compute_backoff

ALERT_PUSH_BODY = "Open Herald to acknowledge it."  # generic on purpose: a lock screen shows it
RETIRE_CODES = frozenset({"UNREGISTERED"})
RETRY_CODES = frozenset(
    {"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "UNKNOWN"}
)


class Verdict(StrEnum):
    """What one send's result means for its (notification, token)."""

    SENT = "sent"
    RETIRE = "retired"
    RETRY = "retrying"
    PERMANENT = "failed"


@dataclass(frozen=True)
class PushPolicy:
    """Retry bound and backoff, message TTL and token age (from PushSenderSettings)."""

    max_attempts: int = 6
    retry_base_s: float = 2.0
    retry_cap_s: float = 600.0
    ttl_s: int = 86_400
    token_max_age: timedelta = timedelta(days=270)


@dataclass(frozen=True, slots=True)
class PushPayload:
    """What every device of one request receives; no PHI by construction (ids, types, generic text)."""

    title: str
    body: str
    data: dict[str, str]
    collapse_key: str
    ttl_s: int
    high_priority: bool
    expires_at: int  # epoch seconds (APNs apns-expiration)
    # An alert awaiting acknowledgement: iOS shows it through Focus modes (interruption level
    # "time-sensitive"); never "critical", which bypasses the mute switch and needs Apple's entitlement.
    time_sensitive: bool = False


def payload_for(request: PushRequest, *, now: datetime, ttl_s: int) -> PushPayload:
    """The message for ``request``: the catalogue's generic text for its event type, or the digest text."""
    alert = request.kind == ALERT_PUSH_KIND
    if request.kind == "digest":
        title, body = digest_text(max(request.digest_count, 1))
    elif alert:
        title, body = lookup(request.event_type).push_title, ALERT_PUSH_BODY
    else:
        entry = lookup(request.event_type)
        title, body = entry.push_title, entry.push_body
    data = {"notification_id": str(request.notification_id), "event_type": request.event_type, "kind": request.kind}
    if request.resource_type:
        data["resource_type"] = request.resource_type
    if request.resource_id:
        data["resource_id"] = request.resource_id
    if request.kind == "digest":
        data["count"] = str(request.digest_count)
    return PushPayload(
        title,
        body,
        data,
        str(request.notification_id),
        ttl_s,
        alert or request.priority.rank >= Priority.HIGH.rank,
        int(now.timestamp()) + ttl_s,
        time_sensitive=alert,
    )


def select_tokens(tokens: Iterable[DeviceToken], *, now: datetime, max_age: timedelta) -> list[DeviceToken]:
    """The tokens to push to: seen within ``max_age``, newest first, each token string once."""
    fresh = sorted(
        (t for t in tokens if t.last_seen_at >= now - max_age),
        key=lambda t: (t.last_seen_at, t.created_at),
        reverse=True,
    )
    seen: set[str] = set()
    chosen = []
    for t in fresh:
        if t.token not in seen:
            seen.add(t.token)
            chosen.append(t)
    return chosen


def classify(result: SendResult) -> Verdict:
    """One result's verdict. A bare NOT_FOUND (no UNREGISTERED detail, e.g. a wrong project URL) is
    permanent, not a reason to retire: retiring on it would wipe every token on a misconfiguration."""
    if result.ok:
        return Verdict.SENT
    if result.code in RETIRE_CODES or (result.code == "INVALID_ARGUMENT" and result.names_token):
        return Verdict.RETIRE
    if result.code in RETRY_CODES or result.http_status is None:
        return Verdict.RETRY
    return Verdict.PERMANENT


def retry_delay(
    attempt: int, retry_after_s: float | None, policy: PushPolicy, rng: random.Random | None = None
) -> float:
    """Seconds before attempt ``attempt + 1``: exponential backoff with jitter, at least Retry-After."""
    backoff = compute_backoff(attempt, base=policy.retry_base_s, cap=policy.retry_cap_s, jitter=True, rng=rng)
    return max(backoff, retry_after_s or 0.0)


@dataclass(frozen=True, slots=True)
class Send:
    """One device's send of one request and its result."""

    token: DeviceToken
    result: SendResult

    @property
    def verdict(self) -> Verdict:
        return classify(self.result)


@dataclass(frozen=True, slots=True)
class Retry:
    attempt: int  # attempts made so far (the next one is attempt + 1)
    due_at: datetime
    last_error: str


@dataclass(frozen=True, slots=True)
class GiveUp:
    code: str
    attempts: int
    reason: str
    retries_exhausted: bool


@dataclass
class Decision:
    """What happens to one request after this attempt."""

    sends: list[Send] = field(default_factory=list)
    bell_status: str | None = None  # user_notifications.push_status to set, None: leave it
    retry: Retry | None = None
    give_up: GiveUp | None = None

    def retired(self) -> list[Send]:
        return [s for s in self.sends if s.verdict is Verdict.RETIRE]


def decide(
    sends: list[Send],
    *,
    attempt: int,
    had_devices: bool,
    now: datetime,
    policy: PushPolicy,
    rng: random.Random | None = None,
) -> Decision:
    """Called once per request after its sends; ``attempt`` is this attempt's number (1-based)."""
    verdicts = [s.verdict for s in sends]
    decision = Decision(sends, bell_status=_bell_status(verdicts, had_devices))
    permanent = [s for s in sends if s.verdict is Verdict.PERMANENT]
    transient = [s for s in sends if s.verdict is Verdict.RETRY]
    if permanent:
        code = permanent[0].result.code or "UNKNOWN"
        decision.give_up = GiveUp(
            code,
            attempt,
            f"{code} from FCM for {len(permanent)} of {len(sends)} devices; permanent, not retried",
            retries_exhausted=False,
        )
    elif transient and attempt >= policy.max_attempts:
        code = transient[-1].result.code or "UNKNOWN"
        decision.give_up = GiveUp(
            code,
            attempt,
            f"{code} from FCM for {len(transient)} of {len(sends)} devices after {attempt} attempts",
            retries_exhausted=True,
        )
    elif transient:
        retry_after = max((s.result.retry_after_s or 0.0 for s in transient), default=0.0)
        due = now + timedelta(seconds=retry_delay(attempt, retry_after, policy, rng))
        decision.retry = Retry(attempt, due, transient[-1].result.code or "UNKNOWN")
    if decision.give_up and decision.bell_status != "sent":
        decision.bell_status = "failed"
    return decision


def _bell_status(verdicts: list[Verdict], had_devices: bool) -> str | None:
    if Verdict.SENT in verdicts:
        return "sent"
    if not had_devices or (verdicts and all(v is Verdict.RETIRE for v in verdicts)):
        return "no_devices"
    if Verdict.RETRY in verdicts:
        return "retrying"
    return None
