"""When the lag exporter's figures are stale and when its broker clients are replaced; pure: times
and outcomes in, decisions out (docs/decisions/0102-lag-exporter-recovery-and-staleness.md).

Stale figures are worse than none: lag frozen at its pre-outage value reads as "fine" on a dashboard
and resolves alerts. So past ``stale_after_s`` without a successful collection the per-partition and
per-group series are withdrawn from /metrics, /readyz fails, and the age stays exported.
"""

from __future__ import annotations

from dataclasses import dataclass


def collection_age(last_success_at: float | None, started_at: float, now: float) -> float:
    """Seconds since the last successful collection; before the first one, since the exporter started
    (so a exporter that never reaches its broker turns stale too)."""
    return max(now - (last_success_at if last_success_at is not None else started_at), 0.0)


def is_stale(age_s: float, stale_after_s: float) -> bool:
    return age_s > stale_after_s


@dataclass
class FailureStreak:
    """Collections failed in a row. From the ``limit``-th on, every failed collection replaces the
    clients: a long-lived librdkafka client can stay wedged after a broker restart (timing out call
    after call, or aborting on an internal assertion), and fresh clients cost one bootstrap. A success
    ends the streak."""

    limit: int
    count: int = 0

    def succeeded(self) -> None:
        self.count = 0

    def failed(self) -> bool:
        """Counts one failure; True when the clients should be closed and replaced now."""
        self.count += 1
        return self.count >= self.limit
