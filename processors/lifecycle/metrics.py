"""Metrics of the lifecycle processor: how far ahead the months are ready, what waits in the default
partitions, what retention did and what it has left overdue.

Names are fixed: deploy/prometheus/rules/herald.rules.yml pages on ``herald_partitions_months_ready`` and
``herald_retention_overdue_partitions``. Labels are table names only.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

READY = Gauge(
    "herald_partitions_months_ready",
    "Months after the current one that already have their partition (-1: the current one has none)",
    ["table"],
)
DEFAULT_ROWS = Gauge(
    "herald_partitions_default_rows",
    "Rows in the default partition, counted up to 100,000 (rows no month covers: a clock years off)",
    ["table"],
)
OVERDUE = Gauge(
    "herald_retention_overdue_partitions",
    "Partitions retention should have dropped or cleaned and has not, after the last run (only with retention on)",
    ["table"],
)
CREATED = Counter("herald_partitions_created_total", "Monthly partitions created", ["table"])
DROPPED = Counter("herald_partitions_dropped_total", "Partitions dropped by retention", ["table"])
ROWS = Counter(
    "herald_retention_rows_total",
    "Rows retention deleted from a month others keep (deleted) or copied into a month it replaced (kept)",
    ["table", "action"],
)
