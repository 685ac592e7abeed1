"""Settings of the time-partitioned tables' life cycle (``sinks.postgres.partitions``): how many months
are created ahead, how long each table keeps its rows before whole partitions are dropped, and where
the dropped ones are archived."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings

from streams.settings import HERALD_CONFIG

# the partitioned tables whose rows carry an organization_id, by the name an override gives them
ORGANIZATION_TABLES = {"feed_days": "activity_events", "bell_days": "user_notifications"}


class OrganizationRetention(BaseModel):
    """One organization's retention where it differs from its table's (unset: the table's)."""

    model_config = ConfigDict(extra="forbid")

    feed_days: int | None = Field(default=None, ge=1)
    bell_days: int | None = Field(default=None, ge=1)


class DataLifecycleSettings(BaseSettings):
    """Read by ``herald run lifecycle``, ``herald partitions maintain`` and ``herald retention run``. A
    partition is dropped only once every row it can hold is older than its table's retention, so rows live
    at least that long and at most a month longer (an organization's own period: likewise). The API
    reads the feed's and the bell's days too: it shows each organization no row older than them
    (``api.windows``)."""

    model_config = HERALD_CONFIG

    partitions_ahead_months: int = Field(
        default=3, ge=1, le=24, description="Monthly partitions kept ready past the current month"
    )
    retention_feed_days: int = Field(
        default=400, ge=1, description="Days activity_events (the feed, timelines) keeps an event, by occurred_at"
    )
    retention_bell_days: int = Field(
        default=90, ge=1, description="Days user_notifications (the bell) keeps an entry, by the event's occurred_at"
    )
    retention_push_days: int = Field(
        default=30, ge=1, description="Days push_deliveries keeps a delivery, by the push request's occurred_at"
    )
    retention_organizations: dict[str, OrganizationRetention] = Field(
        default_factory=dict,
        description="Per-organization retention, shorter or longer than the table's: JSON "
        '`{"<organization_id>": {"feed_days": N, "bell_days": N}}` (push deliveries carry no organization)',
    )
    upkeep_statement_timeout_s: int = Field(
        default=3600,
        ge=1,
        description="Longest one statement of partition upkeep and retention may run (a month's archive COPY, "
        "the copy of kept rows, an organization's delete), instead of the pipeline's 60 s",
    )
    archive_dir: str | None = Field(
        default=None,
        description="Directory `herald retention run` archives expired partitions to (unset: dropped unarchived)",
    )

    def keep_days(self) -> dict[str, int | None]:
        """Retention per partitioned table."""
        return {
            "activity_events": self.retention_feed_days,
            "user_notifications": self.retention_bell_days,
            "push_deliveries": self.retention_push_days,
        }

    def organization_days(self) -> dict[str, dict[str, int]]:
        """Per partitioned table, the organizations whose retention differs from the table's, and theirs."""
        found: dict[str, dict[str, int]] = {table: {} for table in ORGANIZATION_TABLES.values()}
        for organization, override in self.retention_organizations.items():
            for field_name, table in ORGANIZATION_TABLES.items():
                days = getattr(override, field_name)
                if days is not None and days != self.keep_days()[table]:
                    found[table][organization] = days
        return found

    def days_for(self, table: str, organization_id: str) -> int | None:
        """How long ``table`` keeps ``organization_id``'s rows."""
        return self.organization_days().get(table, {}).get(organization_id, self.keep_days()[table])
