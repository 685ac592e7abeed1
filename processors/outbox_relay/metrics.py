"""Metrics of the outbox relay. Names are fixed: deploy/prometheus and docs/operations.md use them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ROWS = Gauge("herald_outbox_rows", "Rows waiting in the outbox, as last counted")
OLDEST_AGE = Gauge(
    "herald_outbox_oldest_age_seconds", "Age of the oldest row waiting in the outbox (0 when empty), as last counted"
)
PUBLISHED = Counter("herald_outbox_published_total", "Outbox rows the broker acknowledged on the activity topic")
DEAD_LETTERED = Counter(
    "herald_outbox_dead_lettered_total",
    "Outbox rows moved to the dead-letter table: undecodable payload, or refused by the broker for good",
    ["reason"],
)
FAILURES = Counter(
    "herald_outbox_failures_total", "Relay passes rolled back to be retried (broker or database unavailable)"
)

for reason in ("undecodable", "refused"):  # both series exist from start-up, so rate() and alerts see a 0
    DEAD_LETTERED.labels(reason)


def on_counted(rows: int, oldest_age_s: float) -> None:
    ROWS.set(rows)
    OLDEST_AGE.set(oldest_age_s)
