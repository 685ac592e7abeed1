"""Per-organization retention read from the environment: overrides per table, and only where they differ."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sinks.postgres.settings import DataLifecycleSettings


def test_overrides_are_read_from_json_and_sorted_by_table(monkeypatch):
    monkeypatch.setenv(
        "HERALD_RETENTION_ORGANIZATIONS",
        '{"short": {"feed_days": 30}, "long": {"bell_days": 900, "feed_days": 400}, "plain": {}}',
    )
    settings = DataLifecycleSettings()
    # "long"'s feed_days equals the table's 400: no override for it there
    assert settings.organization_days() == {"activity_events": {"short": 30}, "user_notifications": {"long": 900}}
    assert settings.days_for("activity_events", "short") == 30
    assert settings.days_for("user_notifications", "long") == 900
    assert settings.days_for("user_notifications", "plain") == 90


def test_a_misspelt_or_non_positive_override_is_refused(monkeypatch):
    monkeypatch.setenv("HERALD_RETENTION_ORGANIZATIONS", '{"o": {"feed": 30}}')
    with pytest.raises(ValidationError, match="feed"):
        DataLifecycleSettings()
    monkeypatch.setenv("HERALD_RETENTION_ORGANIZATIONS", '{"o": {"bell_days": 0}}')
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        DataLifecycleSettings()
