"""Settings of the lag exporter (``herald run lag-exporter``, ``herald lag``)."""

from __future__ import annotations

from pydantic import Field

from streams.settings import HERALD_CONFIG, KafkaSettings, MetricsSettings


class LagExporterSettings(KafkaSettings, MetricsSettings):
    """Settings of ``herald run lag-exporter`` and ``herald lag``: reads every group named
    ``HERALD_GROUP_PREFIX*`` from the broker every ``lag_interval_s``."""

    model_config = HERALD_CONFIG

    lag_interval_s: float = Field(
        default=10.0, gt=0, description="How often the lag exporter reads the groups, in seconds"
    )
    lag_probe_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait for one broker read (offsets, the record at a committed offset), in seconds",
    )
    lag_stale_after_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds without a successful collection "
        "after which the lag exporter is not ready and withdraws its lag series",
    )
    lag_client_failure_limit: int = Field(
        default=2,
        ge=1,
        description="Failed collections in a row after which "
        "the lag exporter closes its broker clients and builds new ones",
    )
