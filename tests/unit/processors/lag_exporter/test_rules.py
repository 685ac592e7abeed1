"""The lag exporter's lag math and read cache (pure; no broker)."""

from __future__ import annotations

import pytest

from processors.lag_exporter.rules import (
    GroupLag,
    OldestRecord,
    OldestRecordCache,
    PartitionOffsets,
    partition_lag,
    to_read,
)

NOW = 1_800_000_000.0


def offsets(committed: int, start: int = 0, end: int = 100, partition: int = 0) -> PartitionOffsets:
    return PartitionOffsets("t.activity-events.v1", partition, committed, start, end)


@pytest.mark.parametrize(
    "committed, start, end, position, behind",
    [
        (40, 0, 100, 40, 60),  # an ordinary group
        (-1001, 0, 100, 0, 100),  # never committed: resumes at the log start (auto.offset.reset=earliest)
        (10, 30, 100, 30, 70),  # retention deleted past its offset: resumes at the log start
        (100, 0, 100, 100, 0),  # caught up
        (120, 0, 100, 120, 0),  # ahead of a stale end reading: never negative
    ],
)
def test_position_and_records_behind(committed, start, end, position, behind):
    o = offsets(committed, start, end)
    assert (o.position, o.behind) == (position, behind)


def test_given_a_lagging_group_then_seconds_is_the_age_of_the_record_at_its_position():
    lag = partition_lag("g", offsets(40), OldestRecord(True, int((NOW - 90) * 1000)), NOW)
    assert (lag.messages, lag.seconds) == (60, 90.0)


def test_given_a_caught_up_group_then_zero_and_zero_without_a_read():
    lag = partition_lag("g", offsets(100), None, NOW)
    assert (lag.messages, lag.seconds) == (0, 0.0)


def test_given_only_a_transaction_marker_after_the_position_then_lag_is_zero():
    lag = partition_lag("g", offsets(99), OldestRecord(False), NOW)
    assert (lag.messages, lag.seconds) == (0, 0.0)


def test_given_no_answer_from_the_read_then_messages_count_and_seconds_are_unknown():
    lag = partition_lag("g", offsets(40), None, NOW)
    assert (lag.messages, lag.seconds) == (60, None)


def test_given_a_record_from_the_future_then_seconds_is_not_negative():
    assert partition_lag("g", offsets(40), OldestRecord(True, int((NOW + 5) * 1000)), NOW).seconds == 0.0


def test_group_totals_sum_messages_and_take_the_worst_known_seconds():
    parts = (
        partition_lag("g", offsets(40), OldestRecord(True, int((NOW - 9) * 1000)), NOW),
        partition_lag("g", offsets(90, partition=1), OldestRecord(True, int((NOW - 30) * 1000)), NOW),
        partition_lag("g", offsets(50, partition=2), None, NOW),
    )
    group = GroupLag("g", "empty", 0, parts)
    assert (group.messages, group.seconds) == (60 + 10 + 50, 30.0)


def test_given_a_cached_record_then_no_read_while_the_position_stays_even_as_the_end_moves():
    cache = OldestRecordCache()
    cache.put(offsets(40, end=100), OldestRecord(True, 123))
    assert to_read([offsets(40, end=500)], cache) == []
    assert cache.get(offsets(40, end=500)) == OldestRecord(True, 123)


def test_given_the_position_moved_then_it_is_read_again():
    cache = OldestRecordCache()
    cache.put(offsets(40), OldestRecord(True, 123))
    assert to_read([offsets(41)], cache) == [offsets(41)]


def test_given_nothing_visible_then_cached_only_until_the_end_moves():
    cache = OldestRecordCache()
    cache.put(offsets(99, end=100), OldestRecord(False))
    assert to_read([offsets(99, end=100)], cache) == []
    assert to_read([offsets(99, end=105)], cache) == [offsets(99, end=105)]


def test_two_groups_at_one_position_need_one_read_and_caught_up_groups_none():
    wanted = to_read([offsets(40), offsets(40), offsets(100)], OldestRecordCache())
    assert wanted == [offsets(40)]


def test_retain_forgets_positions_no_group_sits_at():
    cache = OldestRecordCache()
    cache.put(offsets(40), OldestRecord(True, 1))
    cache.put(offsets(41), OldestRecord(True, 2))
    cache.retain([offsets(41)])
    assert cache.get(offsets(40)) is None and cache.get(offsets(41)) == OldestRecord(True, 2)
