"""Settings of the reconciler (``herald run reconciler``)."""

from __future__ import annotations

from pydantic import Field

from streams.settings import HERALD_CONFIG, ProcessorSettings


class ReconcilerSettings(ProcessorSettings):
    """Settings of ``herald run reconciler``."""

    model_config = HERALD_CONFIG

    reconciler_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often the reconciler looks for notifying events never fanned out, in seconds",
    )
    reconciler_grace_s: float = Field(
        default=300.0, ge=0, description="Age an event must reach before the reconciler fans it out again, in seconds"
    )
