"""Metrics of the escalator: steps fired and how late, skips, exhausted alerts, open and overdue alerts.

Names are fixed: deploy/prometheus (the two urgent-alert pages) and deploy/grafana use them. Labels are
event types, step numbers and skip reasons, never user or patient ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram

from processors.notifications.escalation_policy import EscalationPolicy

STEPS = Counter("herald_escalation_steps_total", "Escalation steps fired by the escalator", ["event_type", "step"])
EXHAUSTED = Counter("herald_alerts_exhausted_total", "Alerts whose every step went unacknowledged", ["event_type"])
DELAY = Histogram(
    "herald_escalation_step_delay_seconds",
    "How late an escalation step fired: from its due time to its pushes on the broker and its commit",
    ["event_type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
SKIPS = Counter("herald_alert_skips_total", "Users an escalation step named but did not alert, by reason", ["reason"])
OPEN = Gauge("herald_alerts_open", "Alerts awaiting acknowledgement, as last counted", ["event_type"])
OVERDUE = Gauge(
    "herald_alerts_unacknowledged_overdue",
    "Alerts raised more than HERALD_ALERT_OVERDUE_S and less than 24 h ago that nobody acknowledged",
    ["event_type"],
)


def on_timer_fired(event_type: str, step: int, delay_s: float, skips: Iterable[str], *, exhausted: bool) -> None:
    """Called once per timer the escalator committed: a step fired, or (``exhausted``) the check after
    the last step found the alert unacknowledged. Both count in the delay."""
    DELAY.labels(event_type).observe(max(delay_s, 0.0))
    if exhausted:
        EXHAUSTED.labels(event_type).inc()
    else:
        STEPS.labels(event_type, str(step)).inc()
    for reason in skips:
        SKIPS.labels(reason).inc()


def declare(policies: Mapping[str, EscalationPolicy]) -> None:
    """Called at start-up with the catalogue's policies: every step the escalator can fire for them, and
    their delay and exhaustion, read 0 before the first one happens, so the late-step page and the
    dashboard see a series (and a rate) from the first step on, not from the second."""
    for event_type, policy in policies.items():
        DELAY.labels(event_type)
        EXHAUSTED.labels(event_type)
        for step in range(1, len(policy.steps)):
            STEPS.labels(event_type, str(step))


_counted: set[str] = set()  # event types the gauges have a series for


def on_alerts_counted(open_by_type: Mapping[str, int], overdue_by_type: Mapping[str, int]) -> None:
    """Called each time the escalator counts alerts; a type with none left reads 0, not its last value."""
    _counted.update(open_by_type, overdue_by_type)
    for event_type in _counted:
        OPEN.labels(event_type).set(open_by_type.get(event_type, 0))
        OVERDUE.labels(event_type).set(overdue_by_type.get(event_type, 0))
