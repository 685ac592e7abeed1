"""Which monthly partitions should exist: created ahead, dropped once wholly past retention."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sinks.postgres.partitions import Partition, add_months, month_start, months_ready, parse_bound, plan

UTC = timezone.utc
T = "activity_events"


def month(year: int, m: int) -> datetime:
    return datetime(year, m, 1, tzinfo=UTC)


def monthly(*months: datetime) -> list[Partition]:
    return [Partition(T, f"{T}_p{m:%Y%m}", m, add_months(m, 1)) for m in months]


def test_month_start_is_utc_and_add_months_crosses_years():
    assert month_start(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == month(2026, 12)
    assert add_months(month(2026, 11), 3) == month(2027, 2)
    assert add_months(month(2027, 1), -1) == month(2026, 12)


def test_a_new_table_gets_this_month_and_the_months_ahead():
    got = plan(T, [], now=datetime(2026, 12, 4, 20, tzinfo=UTC), ahead=2, keep_days=None)
    assert [(p.name, p.lower, p.upper) for p in got.create] == [
        (f"{T}_p202612", month(2026, 12), month(2027, 1)),
        (f"{T}_p202701", month(2027, 1), month(2027, 2)),
        (f"{T}_p202702", month(2027, 2), month(2027, 3)),
    ]
    assert got.drop == []


def test_months_already_covered_are_not_created_again_legacy_included():
    legacy = Partition(T, f"{T}_legacy", None, month(2027, 1))
    default = Partition(T, f"{T}_default", None, None, default=True)
    existing = [legacy, *monthly(month(2027, 1)), default]
    got = plan(T, existing, now=datetime(2026, 12, 4, tzinfo=UTC), ahead=3, keep_days=None)
    assert [p.name for p in got.create] == [f"{T}_p202702", f"{T}_p202703"]


def test_drops_exactly_the_partitions_wholly_before_the_cutoff():
    existing = monthly(month(2026, 8), month(2026, 9), month(2026, 10), month(2026, 11), month(2026, 12))
    # 60 days before 2026-12-01 12:00 is 2026-10-02 12:00: August and September are wholly older;
    # October holds rows younger than the cutoff, so it stays.
    got = plan(T, existing, now=datetime(2026, 12, 1, 12, tzinfo=UTC), ahead=0, keep_days=60)
    assert [p.name for p in got.drop] == [f"{T}_p202608", f"{T}_p202609"]
    assert got.create == []


def test_the_default_partition_is_never_dropped_and_legacy_only_once_wholly_expired():
    legacy = Partition(T, f"{T}_legacy", None, month(2027, 1))
    default = Partition(T, f"{T}_default", None, None, default=True)
    mid_january = datetime(2027, 1, 15, tzinfo=UTC)
    assert plan(T, [legacy, default], now=mid_january, ahead=0, keep_days=15).drop == []  # cutoff 2026-12-31
    assert plan(T, [legacy, default], now=mid_january, ahead=0, keep_days=14).drop == [legacy]  # cutoff 2027-01-01


def test_no_retention_drops_nothing():
    existing = monthly(month(2020, 1))
    assert plan(T, existing, now=month(2026, 12), ahead=0, keep_days=None).drop == []


@pytest.mark.parametrize(
    ("bound", "lower", "upper", "default"),
    [
        (
            "FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')",
            month(2027, 1),
            month(2027, 2),
            False,
        ),
        ("FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00+00')", None, month(2027, 1), False),
        ("DEFAULT", None, None, True),
    ],
)
def test_parse_bound_reads_the_catalogue_forms(bound, lower, upper, default):
    p = parse_bound(T, "x", bound)
    assert (p.lower, p.upper, p.default) == (lower, upper, default)


def test_parse_bound_refuses_what_is_not_a_range():
    with pytest.raises(ValueError):
        parse_bound(T, "x", "FOR VALUES IN ('a')")


def test_months_ready_counts_the_months_after_this_one_until_the_first_gap():
    now = datetime(2026, 12, 4, tzinfo=UTC)
    assert months_ready(monthly(month(2026, 12), month(2027, 1), month(2027, 2)), now=now) == 2
    assert months_ready(monthly(month(2026, 12), month(2027, 2)), now=now) == 0  # January is missing
    assert months_ready(monthly(month(2027, 1)), now=now) == -1  # this month's rows go to the default
    legacy = Partition(T, f"{T}_legacy", None, month(2027, 1))  # covers December from MINVALUE
    default = Partition(T, f"{T}_default", None, None, default=True)
    assert months_ready([legacy, *monthly(month(2027, 1)), default], now=now) == 1
