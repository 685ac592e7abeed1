"""The bell's window: unset, the bell is unbounded; set, it starts that many days back from now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from api.settings import ApiSettings


def test_no_window_by_default():
    assert ApiSettings(env="dev").bell_since() is None


def test_the_window_starts_that_many_days_ago():
    before = datetime.now(timezone.utc)
    since = ApiSettings(env="dev", api_bell_window_days=90).bell_since()
    assert since is not None
    assert before - timedelta(days=90) <= since <= datetime.now(timezone.utc) - timedelta(days=90)
