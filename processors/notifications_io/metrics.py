"""Metrics of the processors that fan out: the fan-out and the reconciler, told apart by ``processor``.

Defined here, not in either processor, because both count into the same series and a metric may be
registered only once per process. Names are fixed: deploy/prometheus and deploy/grafana use them.
"""

from __future__ import annotations

from prometheus_client import Counter

from processors.notifications.plan import FanoutPlan

UNKNOWN_EVENT_TYPES = Counter(
    "herald_unknown_event_types_total",
    "Events of a type the catalogue does not know (stored, notify no one)",
    ["processor"],
)
FANOUT_RECIPIENTS = Counter(
    "herald_fanout_notifications_total", "Notifications decided by the fan-out, by push action", ["processor", "push"]
)


def on_fanout_planned(processor: str, plan: FanoutPlan) -> None:
    """Called by the fan-out and the reconciler after planning a batch."""
    FANOUT_RECIPIENTS.labels(processor, "now").inc(len(plan.pushes))
    FANOUT_RECIPIENTS.labels(processor, "held").inc(len(plan.held))
    FANOUT_RECIPIENTS.labels(processor, "none").inc(plan.bell_only)
    if plan.unknown_types:
        UNKNOWN_EVENT_TYPES.labels(processor).inc(plan.unknown_types)
