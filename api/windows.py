"""How far back the feed, the timelines and the bell reach, per organization: as far as retention keeps
that organization's rows (``HERALD_RETENTION_*``), so what a caller sees does not depend on whether the
retention job has dropped the last expired month yet, and the months before are never read
(docs/decisions/0256-the-api-shows-what-retention-keeps.md).

Built once when the app is (``api.main.create_app``) from the retention settings; a request only
subtracts its organization's days from the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from api.settings import ApiSettings
from sinks.postgres.settings import DataLifecycleSettings

FEED_TABLE, BELL_TABLE = "activity_events", "user_notifications"


@dataclass(frozen=True, slots=True)
class RetentionWindows:
    """Days shown per table: the table's retention unless an organization has its own. ``bell_days_all``
    (``HERALD_API_BELL_WINDOW_DAYS``) replaces the bell's for every organization when set."""

    feed_days: int | None
    bell_days: int | None
    feed_days_by_org: Mapping[str, int] = field(default_factory=dict)
    bell_days_by_org: Mapping[str, int] = field(default_factory=dict)
    bell_days_all: int | None = None

    @classmethod
    def from_settings(cls, api: ApiSettings, lifecycle: DataLifecycleSettings) -> RetentionWindows:
        """``lifecycle.days_for`` for every organization, worked out once rather than per request."""
        keep, overrides = lifecycle.keep_days(), lifecycle.organization_days()
        return cls(
            feed_days=keep[FEED_TABLE],
            bell_days=keep[BELL_TABLE],
            feed_days_by_org=dict(overrides.get(FEED_TABLE, {})),
            bell_days_by_org=dict(overrides.get(BELL_TABLE, {})),
            bell_days_all=api.api_bell_window_days,
        )

    def feed_days_for(self, organization_id: str) -> int | None:
        return self.feed_days_by_org.get(organization_id, self.feed_days)

    def bell_days_for(self, organization_id: str) -> int | None:
        if self.bell_days_all is not None:
            return self.bell_days_all
        return self.bell_days_by_org.get(organization_id, self.bell_days)

    def feed_since(self, organization_id: str, now: datetime | None = None) -> datetime | None:
        """The oldest event time the organization's feed and timelines show now (None: no bound)."""
        return _since(self.feed_days_for(organization_id), now)

    def bell_since(self, organization_id: str, now: datetime | None = None) -> datetime | None:
        """The oldest event time whose bell entries the organization's users see now (None: no bound)."""
        return _since(self.bell_days_for(organization_id), now)


def _since(days: int | None, now: datetime | None) -> datetime | None:
    if days is None:
        return None
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)
