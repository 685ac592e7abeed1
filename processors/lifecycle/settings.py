"""Settings of the lifecycle processor (``herald run lifecycle``)."""

from __future__ import annotations

from pydantic import Field

from sinks.postgres.settings import DataLifecycleSettings
from streams.settings import HERALD_CONFIG, JobSettings, PostgresSettings


class LifecycleSettings(PostgresSettings, DataLifecycleSettings, JobSettings):
    """Settings of ``herald run lifecycle``: the partition and retention settings it applies, and when."""

    model_config = HERALD_CONFIG

    lifecycle_interval_s: float = Field(
        default=3600,
        gt=0,
        description="How often the lifecycle processor creates the months ahead and (when on) applies retention, "
        "in seconds; the first run is at start",
    )
    lifecycle_retention: bool = Field(
        default=False,
        description="Whether the lifecycle processor applies retention (archives and drops expired months, "
        "deletes organizations' expired rows); off, it only creates months ahead, because retention deletes data",
    )
