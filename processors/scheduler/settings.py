"""Settings of the scheduler (``herald run scheduler``)."""

from __future__ import annotations

from pydantic import Field

from streams.settings import HERALD_CONFIG, ProcessorSettings


class SchedulerSettings(ProcessorSettings):
    """Settings of ``herald run scheduler``."""

    model_config = HERALD_CONFIG

    scheduler_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often the scheduler releases due held notifications (one digest per user), in seconds",
    )
