"""The push sender's metrics, recorded through one hook object. No user, token or
notification id ever becomes a label: labels are FCM codes and reasons only.

The names are fixed: the dashboards and alert rules in deploy/ are built on them (notably
``herald_push_results_total{code}`` and ``herald_tokens_retired_total{reason}``).
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import Counter, Gauge, Histogram

from processors.notifications.escalation_policy import DEFAULT_POLICIES
from sinks.postgres.push import FirstAccepted

# code = FCM's error code, "OK" on success; reason = the FCM code that retired the token.
PUSH_RESULTS = Counter("herald_push_results_total", "Push sends to FCM by result code (OK on success)", ["code"])
TOKENS_RETIRED = Counter(
    "herald_tokens_retired_total", "Device tokens retired, by reason (e.g. UNREGISTERED)", ["reason"]
)
RETRIES_SCHEDULED = Counter(
    "herald_push_retries_scheduled_total", "Push requests parked for a later attempt, by FCM code", ["code"]
)
RETRIES_RELEASED = Counter("herald_push_retries_released_total", "Parked push requests put back on the push topic")
RETRIES_PENDING = Gauge("herald_push_retries_pending", "Push requests waiting in push_retries, as last counted")
DEAD_LETTERED = Counter(
    "herald_push_dead_lettered_total", "Push requests sent to the push DLQ, by FCM code and kind", ["code", "kind"]
)
SKIPPED = Counter(
    "herald_push_duplicates_skipped_total", "(notification, token) pairs not sent again because already sent"
)
TOKENS_PRUNED = Counter("herald_tokens_pruned_total", "Stale or long-retired device tokens deleted")
FCM_OUTAGE = Gauge(
    "herald_push_fcm_outage", "1 while FCM is down with this class of error (sends held, probing)", ["class"]
)
FCM_OUTAGE_WAITS = Counter(
    "herald_push_fcm_outage_waits_total", "Batches held back because FCM was down, by class", ["class"]
)
OUTAGE_CLASSES = ("unreachable", "server", "quota")  # processors.push.outage.OutageClass
SEND_SECONDS = Histogram(
    "herald_push_send_seconds",
    "Time to send one batch's pushes to FCM",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# Event → the first push of its alert that FCM accepted; once per alert (sinks.postgres.push.PushSink).
ALERT_FIRST_PUSH_ACCEPTED = Histogram(
    "herald_alert_first_push_accepted_seconds",
    "Time from an urgent alert's event to the first of its pushes FCM accepted, by event type",
    ["event_type"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
)
for _event_type in DEFAULT_POLICIES:  # series from the start: a type's first alert then shows in rate()
    ALERT_FIRST_PUSH_ACCEPTED.labels(_event_type)


class PushHooks:
    """Called by ``processors.push.app`` (results, decisions) and ``processors.push.retries`` (pump, prune)."""

    def on_sent(self, codes: Tally, seconds: float | None, skipped: int) -> None:
        """After sends to FCM (``seconds`` None: none made): one count per result code (OK on success)."""
        for code, n in codes.items():
            PUSH_RESULTS.labels(code).inc(n)
        if seconds is not None:
            SEND_SECONDS.observe(seconds)
        if skipped:
            SKIPPED.inc(skipped)

    def on_outage(self, cls: str | None) -> None:
        """FCM found down with an outage class (each failed probe too), or answering again (None)."""
        for name in OUTAGE_CLASSES:
            FCM_OUTAGE.labels(name).set(1 if name == cls else 0)
        if cls is not None:
            FCM_OUTAGE_WAITS.labels(cls).inc()

    def on_decided(self, *, retired: Tally, retries: Tally, dead: Tally) -> None:
        """After a batch's decisions: tokens retired by reason, retries by code, dead letters by (code, kind)."""
        for reason, n in retired.items():
            TOKENS_RETIRED.labels(reason).inc(n)
        for code, n in retries.items():
            RETRIES_SCHEDULED.labels(code).inc(n)
        for (code, kind), n in dead.items():
            DEAD_LETTERED.labels(code, kind).inc(n)

    def on_first_accepted(self, alerts: list[FirstAccepted]) -> None:
        """After a batch's transaction recorded the first accepted push of these alerts (each alert once)."""
        for alert in alerts:
            ALERT_FIRST_PUSH_ACCEPTED.labels(alert.event_type).observe(alert.seconds)

    def on_retries_released(self, released: int, pending: int) -> None:
        if released:
            RETRIES_RELEASED.inc(released)
        RETRIES_PENDING.set(pending)

    def on_tokens_pruned(self, n: int) -> None:
        if n:
            TOKENS_PRUNED.inc(n)
