"""Prometheus metrics of every Herald process, recorded through hooks (STYLE 20).

Names are ``herald_*``; labels are low-cardinality (processor, group, topic, partition, outcome,
reason class): never a user, patient or event id.
"""
from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

RECORDS_IN = Counter("herald_records_in_total", "Records consumed", ["processor", "topic"])
RECORDS_OUT = Counter("herald_records_out_total", "Records whose effect is durable, by outcome", ["processor", "topic", "outcome"])
RECORDS_FAILED = Counter("herald_records_failed_total", "Records of batches that failed and will be redone", ["processor", "topic"])
DEAD_LETTERED = Counter("herald_records_dead_lettered_total", "Records sent to a dead-letter topic", ["processor", "topic", "reason"])
BATCH_SECONDS = Histogram("herald_batch_duration_seconds", "Time from poll to committed offsets", ["processor"], buckets=_LATENCY_BUCKETS)
E2E_SECONDS = Histogram("herald_end_to_end_latency_seconds", "Record timestamp to durable effect", ["processor"], buckets=_LATENCY_BUCKETS)
LAG_MESSAGES = Gauge("herald_consumer_lag_messages", "Records behind the partition end, as this consumer sees it", ["group", "topic", "partition"])
LAG_SECONDS = Gauge("herald_consumer_lag_seconds", "Age of the oldest record not yet consumed (0 when caught up)", ["group", "topic", "partition"])
REBALANCES = Counter("herald_rebalances_total", "Partition assignment changes", ["processor", "kind"])
ASSIGNED = Gauge("herald_assigned_partitions", "Partitions assigned to this process", ["processor"])
PUBLISHED = Counter("herald_published_total", "Records the producer SDK got acknowledged", ["topic"])
PUBLISH_FAILED = Counter("herald_publish_failures_total", "Records the producer SDK could not deliver", ["topic", "reason"])


def serve(port: int) -> None:
    """Starts the /metrics endpoint on ``port`` unless it is 0; called once from ``__main__``."""
    if port:
        start_http_server(port)


class RuntimeHooks:
    """What the consumer runtime reports; one instance per processor."""

    def __init__(self, processor: str, group: str) -> None:
        self.processor = processor
        self.group = group

    def on_batch_done(self, ok: dict[str, int], dead: dict[tuple[str, str], int], started: float, newest_ts_ms: int) -> None:
        """Called after a batch's offsets are committed: ``ok`` per topic, ``dead`` per (topic, reason)."""
        for topic, n in ok.items():
            RECORDS_IN.labels(self.processor, topic).inc(n)
            RECORDS_OUT.labels(self.processor, topic, "ok").inc(n)
        for (topic, reason), n in dead.items():
            RECORDS_IN.labels(self.processor, topic).inc(n)
            RECORDS_OUT.labels(self.processor, topic, "dead_lettered").inc(n)
            DEAD_LETTERED.labels(self.processor, topic, reason).inc(n)
        BATCH_SECONDS.labels(self.processor).observe(time.monotonic() - started)
        if newest_ts_ms > 0:
            E2E_SECONDS.labels(self.processor).observe(max(time.time() - newest_ts_ms / 1000, 0.0))

    def on_batch_failed(self, counts_in: dict[str, int]) -> None:
        """Called when a batch is rewound to be redone."""
        for topic, n in counts_in.items():
            RECORDS_FAILED.labels(self.processor, topic).inc(n)

    def on_lag(self, topic: str, partition: int, messages: int, seconds: float) -> None:
        LAG_MESSAGES.labels(self.group, topic, str(partition)).set(messages)
        LAG_SECONDS.labels(self.group, topic, str(partition)).set(seconds)

    def on_forget_partition(self, topic: str, partition: int) -> None:
        """Called on revoke: another member reports this partition now."""
        for gauge in (LAG_MESSAGES, LAG_SECONDS):
            try:
                gauge.remove(self.group, topic, str(partition))
            except KeyError:
                pass

    def on_rebalance(self, kind: str, assigned_count: int) -> None:
        REBALANCES.labels(self.processor, kind).inc()
        ASSIGNED.labels(self.processor).set(assigned_count)
