"""What the lag exporter's /metrics shows for a snapshot (no broker)."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from processors.lag_exporter.app import LagExporter, LagLimits, Snapshot
from processors.lag_exporter.exposition import LagMetrics
from processors.lag_exporter.rules import GroupLag, PartitionLag
from processors.lag_exporter.settings import LagExporterSettings


def StubExporter(snapshot, failures=0, now=1240.0, stale_after_s=60.0):  # noqa: N802 - reads as the stub it builds
    """An exporter that never reaches a broker, holding ``snapshot``, at unix time ``now``."""
    limits = replace(LagLimits.of(LagExporterSettings()), stale_after_s=stale_after_s)
    exporter = LagExporter(_no_broker, group_prefix="herald-", limits=limits, clock=lambda: now)
    exporter.snapshot, exporter.failures = snapshot, failures
    return exporter


def _no_broker():
    raise AssertionError("exposition must not reach the broker")


def scrape(exporter) -> dict[str, list]:
    registry = CollectorRegistry()
    registry.register(LagMetrics(exporter))
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def test_given_a_dead_group_behind_then_its_lag_members_and_state_are_exported():
    dead = GroupLag(
        "herald-persister",
        "empty",
        0,
        (
            PartitionLag("herald-persister", "emr.activity-events.v1", 0, 40, 100, 60, 12.5),
            PartitionLag("herald-persister", "emr.activity-events.v1", 1, 7, 9, 2, None),
        ),
    )
    samples = scrape(StubExporter(Snapshot((dead,), taken_at=1234.0, duration_s=0.1), failures=2))

    p0 = {"group": "herald-persister", "topic": "emr.activity-events.v1", "partition": "0"}
    p1 = {**p0, "partition": "1"}
    assert samples["herald_group_lag_messages"] == [(p0, 60), (p1, 2)]
    assert samples["herald_group_lag_seconds"] == [(p0, 12.5)]  # unknown seconds: no sample rather than a guess
    assert samples["herald_group_committed_offset"] == [(p0, 40), (p1, 7)]
    assert samples["herald_partition_end_offset"] == [
        ({"topic": "emr.activity-events.v1", "partition": "0"}, 100),
        ({"topic": "emr.activity-events.v1", "partition": "1"}, 9),
    ]
    assert samples["herald_group_members"] == [({"group": "herald-persister"}, 0)]
    assert samples["herald_group_state"] == [({"group": "herald-persister", "state": "empty"}, 1)]
    assert samples["herald_lag_exporter_errors_total"] == [({}, 2)]
    assert samples["herald_lag_exporter_last_success_timestamp_seconds"] == [({}, 1234.0)]


def test_before_the_first_collection_then_only_the_exporters_own_metrics():
    samples = scrape(StubExporter(None))
    assert "herald_group_lag_messages" not in samples
    assert samples["herald_lag_exporter_last_success_timestamp_seconds"] == [({}, 0.0)]


def test_given_a_snapshot_older_than_the_limit_then_lag_series_are_withdrawn_and_its_age_is_exported():
    group = GroupLag(
        "herald-persister",
        "stable",
        1,
        (PartitionLag("herald-persister", "emr.activity-events.v1", 0, 40, 100, 60, 12.5),),
    )
    snapshot = Snapshot((group,), taken_at=1000.0, duration_s=0.1)

    fresh = scrape(StubExporter(snapshot, now=1059.0, stale_after_s=60))
    assert fresh["herald_group_lag_messages"] and fresh["herald_lag_collection_age_seconds"] == [({}, 59.0)]

    stale = scrape(StubExporter(snapshot, now=1061.0, stale_after_s=60))
    for name in (
        "herald_group_lag_messages",
        "herald_group_lag_seconds",
        "herald_group_committed_offset",
        "herald_partition_end_offset",
        "herald_group_members",
        "herald_group_state",
    ):
        assert name not in stale, name
    assert stale["herald_lag_collection_age_seconds"] == [({}, 61.0)]
    assert stale["herald_lag_exporter_last_success_timestamp_seconds"] == [({}, 1000.0)]
