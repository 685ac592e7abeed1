"""The lag exporter's metrics, rendered at each scrape from its latest snapshot (names in docs/observability.md).

A custom collector rather than gauges set in the loop: a partition or group that disappears from a
collection disappears from /metrics too, with no stale series left behind. Likewise a whole snapshot
older than ``lag_stale_after_s``: its lag, offset, member and state series are withdrawn (pre-outage
lag served as current reads as "fine"), while ``herald_lag_collection_age_seconds`` says how old the
last success is (docs/decisions/0102-lag-exporter-recovery-and-staleness.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from processors.lag_exporter.app import LagExporter, Snapshot
from processors.lag_exporter.rules import GroupLag

PARTITION_LABELS = ["group", "topic", "partition"]


class LagMetrics(Collector):
    """Registered once by ``__main__``; called by the /metrics handler at every scrape."""

    def __init__(self, exporter: LagExporter) -> None:
        self._exporter = exporter

    def collect(self) -> Iterator[Metric]:
        snapshot = self._exporter.snapshot
        groups = snapshot.groups if snapshot and not self._exporter.stale() else ()
        yield from _partition_families(groups)
        yield from _group_families(groups)
        yield from self._own_families(snapshot)

    def _own_families(self, snapshot: Snapshot | None) -> tuple[Metric, ...]:
        errors = CounterMetricFamily("herald_lag_exporter_errors", "Collections that failed (the last snapshot stays)")
        errors.add_metric([], self._exporter.failures)
        last = GaugeMetricFamily(
            "herald_lag_exporter_last_success_timestamp_seconds",
            "Unix time of the last successful collection (0 before the first)",
        )
        last.add_metric([], snapshot.taken_at if snapshot else 0.0)
        duration = GaugeMetricFamily("herald_lag_exporter_collect_duration_seconds", "Duration of the last collection")
        duration.add_metric([], snapshot.duration_s if snapshot else 0.0)
        age = GaugeMetricFamily(
            "herald_lag_collection_age_seconds",
            "Seconds since the last successful collection "
            "(since start before the first); past lag_stale_after_s the lag series are withdrawn",
        )
        age.add_metric([], self._exporter.collection_age_s())
        replaced = CounterMetricFamily(
            "herald_lag_exporter_client_replacements",
            "Times the broker clients were closed and built again after failed collections in a row",
        )
        replaced.add_metric([], self._exporter.replacements)
        return errors, last, duration, age, replaced


def _partition_families(groups: Iterable[GroupLag]) -> tuple[GaugeMetricFamily, ...]:
    lag = GaugeMetricFamily(
        "herald_group_lag_messages",
        "Records between the group's committed offset and the partition end (last stable offset), from the broker",
        labels=PARTITION_LABELS,
    )
    seconds = GaugeMetricFamily(
        "herald_group_lag_seconds",
        "Age of the oldest record the group has not consumed (0 when caught up)",
        labels=PARTITION_LABELS,
    )
    committed = GaugeMetricFamily(
        "herald_group_committed_offset",
        "The group's committed offset (the log start when it has none)",
        labels=PARTITION_LABELS,
    )
    end = GaugeMetricFamily(
        "herald_partition_end_offset",
        "Last stable offset of a partition some group reads",
        labels=["topic", "partition"],
    )
    ends: dict[tuple[str, str], int] = {}
    for g in groups:
        for p in g.partitions:
            labels = [g.group, p.topic, str(p.partition)]
            lag.add_metric(labels, p.messages)
            committed.add_metric(labels, p.position)
            if p.seconds is not None:
                seconds.add_metric(labels, p.seconds)
            ends[(p.topic, str(p.partition))] = p.end
    for (topic, partition), offset in sorted(ends.items()):
        end.add_metric([topic, partition], offset)
    return lag, seconds, committed, end


def _group_families(groups: Iterable[GroupLag]) -> tuple[GaugeMetricFamily, ...]:
    members = GaugeMetricFamily("herald_group_members", "Members of the consumer group", labels=["group"])
    state = GaugeMetricFamily(
        "herald_group_state", "1 for the group's current state (stable, empty, dead, ...)", labels=["group", "state"]
    )
    for g in groups:
        members.add_metric([g.group], g.members)
        state.add_metric([g.group, g.state], 1)
    return members, state
