"""The capacity model: rates scale with hospitals, processes with the peak, and the bottleneck named is
the resource nearest its limit."""

from __future__ import annotations

import dataclasses

from bench.capacity import Assumptions, Measured, partitions, plan, processes

MEASURED = Measured(
    persister_per_s=29_000,
    fanout_per_s=9_600,
    push_per_s=2_800,
    live_streams_per_api=2_000,
    kafka_bytes_per_event=300,
    row_bytes={"activity_events": 450, "user_notifications": 420, "push_deliveries": 580},
)


def test_the_load_is_the_stated_assumptions_multiplied_out():
    a = Assumptions()
    size = plan(100, a, MEASURED)
    assert size.events_per_day == 100 * a.beds * a.events_per_bed_day
    assert size.peak_events_per_s == size.events_per_day / 86_400 * a.peak_factor
    assert size.peak_bell_per_s == size.peak_events_per_s * a.notifying_share * a.recipients_per_notifying
    assert size.live_streams == 100 * a.beds * a.users_per_bed * a.online_share


def test_processes_cover_the_peak_with_headroom_and_partitions_leave_room_to_double():
    assert processes(1_000, 2_800, 2.0) == 2  # never fewer than two
    assert processes(3_000, 2_800, 2.0) == 3
    assert partitions(2) == 12 and partitions(7) == 18 and partitions(2, floor=6) == 6


def test_storage_grows_with_retention_and_replication():
    a = Assumptions()
    base, longer = plan(10, a, MEASURED), plan(10, dataclasses.replace(a, feed_days=800), MEASURED)
    assert longer.postgres_hot_tb > base.postgres_hot_tb
    assert plan(10, dataclasses.replace(a, replication=1), MEASURED).kafka_tb * 3 == base.kafka_tb


def test_the_bottleneck_is_what_of_the_one_primary_runs_out_first():
    slow_writes = dataclasses.replace(MEASURED, persister_per_s=100)
    assert plan(1_000, Assumptions(), slow_writes).first_bottleneck.startswith("Postgres primary: writes")
    small_primary = dataclasses.replace(Assumptions(), pg_primary_hot_gb=10)
    assert plan(1_000, small_primary, MEASURED).first_bottleneck.startswith("Postgres primary: hot data")
