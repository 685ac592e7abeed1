"""Metrics of the scheduler: digests released, held rows dropped, and the held backlog.

Names are fixed: deploy/prometheus and deploy/grafana use them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DIGESTS = Counter(
    "herald_digests_released_total", "Quiet-hours digests released, and held rows dropped at release", ["outcome"]
)
HELD = Gauge("herald_held_notifications", "Notifications held for quiet hours, as last counted", ["processor"])
HELD_OVERDUE = Gauge("herald_held_overdue_notifications", "Held notifications past their release time", ["processor"])


def on_held_counted(processor: str, *, held: int, overdue: int) -> None:
    """Called each time the held notifications are counted (the scheduler's tick): all held, and
    those whose release time has passed (a healthy scheduler keeps the latter at 0)."""
    HELD.labels(processor).set(held)
    HELD_OVERDUE.labels(processor).set(overdue)
