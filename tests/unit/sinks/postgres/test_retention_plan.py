"""What retention does to each partition when some organizations keep their rows shorter or longer."""

from __future__ import annotations

from datetime import datetime, timezone

from sinks.postgres.partitions import Partition, add_months
from sinks.postgres.retention_plan import Fate, fate, fates

UTC = timezone.utc
T = "activity_events"
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def month(year: int, m: int) -> Partition:
    lower = datetime(year, m, 1, tzinfo=UTC)
    return Partition(T, f"{T}_p{lower:%Y%m}", lower, add_months(lower, 1))


def test_without_overrides_the_table_retention_alone_decides():
    # 60 days before 2026-12-04 12:00 is 2026-10-05 12:00: September is wholly older, October is not
    assert fate(month(2026, 9), now=NOW, keep_days=60, organizations={}) == Fate(month(2026, 9), drop=True)
    assert fate(month(2026, 10), now=NOW, keep_days=60, organizations={}) is None


def test_an_organization_keeping_longer_has_its_rows_kept_when_the_month_is_dropped():
    got = fate(month(2026, 9), now=NOW, keep_days=60, organizations={"long": 400, "short": 30})
    assert got == Fate(month(2026, 9), drop=True, keep=frozenset({"long"}))


def test_once_its_own_retention_passes_nothing_is_kept():
    got = fate(month(2025, 9), now=NOW, keep_days=60, organizations={"long": 400})
    assert got == Fate(month(2025, 9), drop=True)


def test_an_organization_keeping_shorter_is_purged_from_months_the_table_still_keeps():
    # 30 days before NOW is 2026-11-04 12:00: October has expired for "short", November has not
    orgs = {"short": 30, "long": 400}
    assert fate(month(2026, 10), now=NOW, keep_days=60, organizations=orgs) == Fate(
        month(2026, 10), drop=False, purge=frozenset({"short"})
    )
    assert fate(month(2026, 11), now=NOW, keep_days=60, organizations=orgs) is None


def test_a_table_kept_for_ever_still_purges_the_shorter_organizations():
    got = fate(month(2026, 10), now=NOW, keep_days=None, organizations={"short": 30})
    assert got == Fate(month(2026, 10), drop=False, purge=frozenset({"short"}))
    assert fate(month(2020, 1), now=NOW, keep_days=None, organizations={}) is None


def test_the_default_partition_is_never_touched_and_a_legacy_one_is_by_its_upper_bound():
    default = Partition(T, f"{T}_default", None, None, default=True)
    legacy = Partition(T, f"{T}_legacy", None, datetime(2026, 9, 1, tzinfo=UTC))
    got = fates([legacy, default], now=NOW, keep_days=60, organizations={"long": 400})
    assert got == [Fate(legacy, drop=True, keep=frozenset({"long"}))]
