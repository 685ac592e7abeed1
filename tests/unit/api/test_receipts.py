"""api.receipts: the summary's window and the time to open."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api.errors import FieldInvalid
from api.receipts import DEFAULT_WINDOW, MAX_WINDOW, Window, open_seconds

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=timezone.utc)


def test_the_default_window_is_the_last_seven_days():
    assert Window.of(None, None, now=NOW) == Window(NOW - DEFAULT_WINDOW, NOW)


def test_since_alone_runs_to_now_and_until_alone_goes_back_seven_days():
    since = NOW - timedelta(days=30)
    assert Window.of(since, None, now=NOW) == Window(since, NOW)
    assert Window.of(None, since, now=NOW) == Window(since - DEFAULT_WINDOW, since)


@pytest.mark.parametrize("since", [NOW, NOW + timedelta(seconds=1), NOW - MAX_WINDOW - timedelta(seconds=1)])
def test_an_empty_reversed_or_too_long_window_is_refused(since):
    with pytest.raises(FieldInvalid) as refused:
        Window.of(since, NOW, now=NOW)
    assert refused.value.field == "since"


def test_a_window_of_exactly_the_maximum_is_taken():
    assert Window.of(NOW - MAX_WINDOW, NOW, now=NOW).since == NOW - MAX_WINDOW


def test_time_to_open_counts_from_the_accepted_push_else_from_the_creation():
    created = NOW - timedelta(hours=1)
    assert open_seconds(opened_at=NOW, pushed_at=NOW - timedelta(seconds=42), created_at=created) == 42
    assert open_seconds(opened_at=NOW, pushed_at=None, created_at=created) == 3600


def test_a_push_clock_ahead_of_the_api_gives_zero_not_a_negative_time():
    assert open_seconds(opened_at=NOW, pushed_at=NOW + timedelta(seconds=3), created_at=NOW) == 0.0
