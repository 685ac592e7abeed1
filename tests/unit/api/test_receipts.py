"""api.receipts: the summary's window and the time to open."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from api.receipts import DEFAULT_WINDOW, MAX_WINDOW, Window, open_seconds

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=timezone.utc)


def test_the_default_window_is_the_last_seven_days():
    assert Window.of(None, None, now=NOW) == Window(NOW - DEFAULT_WINDOW, NOW)


def test_since_alone_runs_to_now_and_until_alone_goes_back_seven_days():
    since = NOW - timedelta(days=30)
    assert Window.of(since, None, now=NOW) == Window(since, NOW)
    assert Window.of(None, since, now=NOW) == Window(since - DEFAULT_WINDOW, since)


def test_a_window_longer_than_the_maximum_starts_the_maximum_before_its_end():
    assert Window.of(NOW - timedelta(days=400), NOW, now=NOW) == Window(NOW - MAX_WINDOW, NOW)
    assert Window.of(NOW - MAX_WINDOW, NOW, now=NOW).since == NOW - MAX_WINDOW


def test_a_reversed_window_is_kept_as_given_and_so_selects_nothing():
    later = NOW + timedelta(hours=1)
    assert Window.of(later, NOW, now=NOW) == Window(later, NOW)


def test_time_to_open_counts_from_the_accepted_push_else_from_the_creation():
    created = NOW - timedelta(hours=1)
    assert open_seconds(opened_at=NOW, pushed_at=NOW - timedelta(seconds=42), created_at=created) == 42
    assert open_seconds(opened_at=NOW, pushed_at=None, created_at=created) == 3600


def test_a_push_clock_ahead_of_the_api_gives_zero_not_a_negative_time():
    assert open_seconds(opened_at=NOW, pushed_at=NOW + timedelta(seconds=3), created_at=NOW) == 0.0
