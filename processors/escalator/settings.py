"""Settings of the escalator (``herald run escalator``)."""

from __future__ import annotations

from pydantic import Field

from streams.settings import HERALD_CONFIG, ProcessorSettings


class EscalatorSettings(ProcessorSettings):
    """Settings of ``herald run escalator``."""

    model_config = HERALD_CONFIG

    escalator_interval_s: float = Field(
        default=0.25,
        gt=0,
        description="How often the escalator looks for due escalation steps, in seconds (a step fires at most "
        "this much after its due time, when the escalator keeps up)",
    )
    escalator_batch: int = Field(
        default=200,
        gt=0,
        description="Most due steps fired in one transaction; a full batch is followed by the next at once",
    )
    alert_overdue_s: int = Field(
        default=1800,
        gt=0,
        description="An alert unacknowledged this long (seconds) counts in herald_alerts_unacknowledged_overdue, "
        "which the 'critical result unacknowledged' page fires on",
    )
