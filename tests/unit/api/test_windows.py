"""How far back each organization's feed and bell reach: retention's days for the organization, worked
out once; ``HERALD_API_BELL_WINDOW_DAYS`` overrides the bell's for everyone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from api.settings import ApiSettings
from api.windows import RetentionWindows
from sinks.postgres.settings import DataLifecycleSettings, OrganizationRetention

NOW = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
LIFECYCLE = DataLifecycleSettings(
    retention_feed_days=400,
    retention_bell_days=90,
    retention_organizations={
        "short": OrganizationRetention(feed_days=30, bell_days=7),
        "long-bell": OrganizationRetention(bell_days=365),
        "as-table": OrganizationRetention(feed_days=400),
    },
)


def windows(**api) -> RetentionWindows:
    return RetentionWindows.from_settings(ApiSettings(env="dev", **api), LIFECYCLE)


def test_each_organization_sees_as_far_back_as_retention_keeps_its_rows():
    shown = windows()
    for org in ("short", "long-bell", "as-table", "unlisted"):
        assert shown.feed_since(org, NOW) == NOW - timedelta(days=LIFECYCLE.days_for("activity_events", org) or 0)
        assert shown.bell_since(org, NOW) == NOW - timedelta(days=LIFECYCLE.days_for("user_notifications", org) or 0)
    assert shown.feed_since("short", NOW) == NOW - timedelta(days=30)
    assert shown.bell_since("long-bell", NOW) == NOW - timedelta(days=365)
    assert shown.feed_since("long-bell", NOW) == NOW - timedelta(days=400)


def test_the_api_bell_window_replaces_every_organizations_bell_days_but_not_the_feeds():
    shown = windows(api_bell_window_days=14)
    assert {shown.bell_since(org, NOW) for org in ("short", "long-bell", "unlisted")} == {NOW - timedelta(days=14)}
    assert shown.feed_since("short", NOW) == NOW - timedelta(days=30)


def test_without_a_time_the_window_ends_at_the_clock():
    before = datetime.now(timezone.utc)
    since = windows().bell_since("unlisted")
    assert since is not None
    assert before - timedelta(days=90) <= since <= datetime.now(timezone.utc) - timedelta(days=90)
