"""Prometheus metrics of the consumer runtime and the producer SDK, recorded through hooks, never
sprinkled through the loop; each processor defines its own domain metrics in its ``metrics.py``.

Names are ``herald_*``; labels are low-cardinality (processor, group, topic, partition, outcome,
reason class): never a user, patient or event id.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

RECORDS_IN = Counter("herald_records_in_total", "Records consumed", ["processor", "topic"])
RECORDS_OUT = Counter(
    "herald_records_out_total", "Records whose effect is durable, by outcome", ["processor", "topic", "outcome"]
)
RECORDS_FAILED = Counter(
    "herald_records_failed_total", "Records of batches that failed and will be redone", ["processor", "topic"]
)
DEAD_LETTERED = Counter(
    "herald_records_dead_lettered_total", "Records sent to a dead-letter topic", ["processor", "topic", "reason"]
)
BATCH_SECONDS = Histogram(
    "herald_batch_duration_seconds", "Time from poll to committed offsets", ["processor"], buckets=_LATENCY_BUCKETS
)
E2E_SECONDS = Histogram(
    "herald_end_to_end_latency_seconds", "Record timestamp to durable effect", ["processor"], buckets=_LATENCY_BUCKETS
)
LAG_MESSAGES = Gauge(
    "herald_consumer_lag_messages",
    "Records behind the partition end, as this consumer sees it",
    ["group", "topic", "partition"],
)
LAG_SECONDS = Gauge(
    "herald_consumer_lag_seconds",
    "Age of the oldest record not yet consumed (0 when caught up)",
    ["group", "topic", "partition"],
)
REBALANCES = Counter("herald_rebalances_total", "Partition assignment changes", ["processor", "kind"])
ASSIGNED = Gauge("herald_assigned_partitions", "Partitions assigned to this process", ["processor"])
FAILING_BATCHES = Gauge(
    "herald_consecutive_failed_batches", "Batches failed in a row since the last one that succeeded", ["processor"]
)
STALLED = Gauge(
    "herald_partition_stalled",
    "1 while a partition is behind and has made no progress for HERALD_STALL_TIMEOUT_S",
    ["group", "topic", "partition"],
)
CLIENT_FATAL = Gauge(
    "herald_client_fatal",
    "1 once a Kafka client of this process failed fatally and could not be replaced",
    ["processor"],
)
PUBLISHED = Counter("herald_published_total", "Records the producer SDK got acknowledged", ["topic"])
PUBLISH_FAILED = Counter(
    "herald_publish_failures_total", "Records the producer SDK could not deliver", ["topic", "reason"]
)


class RuntimeHooks:
    """What the consumer runtime reports; one instance per processor."""

    def __init__(self, processor: str, group: str) -> None:
        self.processor = processor
        self.group = group
        self.last_loop_at: float | None = None  # monotonic; liveness (streams.health)
        self.last_records_at: float | None = None  # monotonic; readiness
        self.assigned = 0
        self.failing = 0  # batches failed in a row
        self.last_failure = ""
        self.fatal: str | None = None
        self._behind: dict[tuple[str, int], int] = {}
        self._progress_at: dict[tuple[str, int], float] = {}  # monotonic; last batch done, or assignment

    def on_start(self, topics: list[str]) -> None:
        """Called once before the first poll: the per-topic series exist from 0, so rate() sees the first records."""
        for topic in topics:
            RECORDS_IN.labels(self.processor, topic)
            RECORDS_OUT.labels(self.processor, topic, "ok")
            RECORDS_FAILED.labels(self.processor, topic)
        ASSIGNED.labels(self.processor).set(0)
        FAILING_BATCHES.labels(self.processor).set(0)
        CLIENT_FATAL.labels(self.processor).set(0)

    def on_loop(self) -> None:
        """Called at the top of every loop iteration: the heartbeat /healthz checks."""
        self.last_loop_at = time.monotonic()

    def on_batch_done(
        self, ok: dict[str, int], dead: dict[tuple[str, str], int], started: float, newest_ts_ms: int
    ) -> None:
        """Called after a batch's offsets are committed: ``ok`` per topic, ``dead`` per (topic, reason)."""
        self.last_records_at = time.monotonic()
        self.failing = 0
        FAILING_BATCHES.labels(self.processor).set(0)
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

    def on_batch_failed(self, counts_in: dict[str, int], reason: str = "") -> None:
        """Called when a batch is rewound to be redone."""
        self.last_records_at = time.monotonic()
        self.failing += 1
        self.last_failure = reason
        FAILING_BATCHES.labels(self.processor).set(self.failing)
        for topic, n in counts_in.items():
            RECORDS_FAILED.labels(self.processor, topic).inc(n)

    def on_fatal(self, reason: str) -> None:
        """Called when a Kafka client failed fatally and the process is about to exit."""
        self.fatal = reason
        CLIENT_FATAL.labels(self.processor).set(1)

    def on_lag(self, topic: str, partition: int, messages: int, seconds: float | None) -> None:
        """``seconds`` None: the age is not known now; the last one reported stays."""
        self._behind[(topic, partition)] = messages
        LAG_MESSAGES.labels(self.group, topic, str(partition)).set(messages)
        if seconds is not None:
            LAG_SECONDS.labels(self.group, topic, str(partition)).set(seconds)

    def on_progress(self, topic: str, partition: int) -> None:
        """Called for each partition of a batch once it is done."""
        self._progress_at[(topic, partition)] = time.monotonic()

    def stalled(self, timeout_s: float, now: float | None = None) -> list[tuple[str, int]]:
        """Partitions behind their end that have made no progress for ``timeout_s`` (updates the gauge)."""
        now = time.monotonic() if now is None else now
        found = []
        for key, since in self._progress_at.items():
            stuck = self._behind.get(key, 0) > 0 and now - since > timeout_s
            STALLED.labels(self.group, key[0], str(key[1])).set(1 if stuck else 0)
            if stuck:
                found.append(key)
        return found

    def on_forget_partition(self, topic: str, partition: int) -> None:
        """Called on revoke: another member reports this partition now."""
        self._behind.pop((topic, partition), None)
        self._progress_at.pop((topic, partition), None)
        for gauge in (LAG_MESSAGES, LAG_SECONDS, STALLED):
            try:
                gauge.remove(self.group, topic, str(partition))
            except KeyError:
                pass

    def on_assign_partition(self, topic: str, partition: int) -> None:
        """Called on assignment: the partition's stall clock starts now."""
        self._progress_at[(topic, partition)] = time.monotonic()

    def on_rebalance(self, kind: str, assigned_count: int) -> None:
        self.assigned = assigned_count
        REBALANCES.labels(self.processor, kind).inc()
        ASSIGNED.labels(self.processor).set(assigned_count)
