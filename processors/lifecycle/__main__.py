"""``herald run lifecycle`` / ``python -m processors.lifecycle [--once]``."""

from __future__ import annotations

import sys

from processors.lifecycle.app import Lifecycle
from processors.lifecycle.settings import LifecycleSettings
from processors.periodic import run_periodic
from processors.registry import PROCESSES
from sinks.postgres.engine import build_engine
from streams.app import configure_logging


def build(settings: LifecycleSettings) -> Lifecycle:
    # upkeep's statements are long by nature (a month's archive COPY): bounded by their own setting
    engine = build_engine(
        settings.database_url, pool_size=2, statement_timeout_ms=settings.upkeep_statement_timeout_s * 1000
    )
    return Lifecycle(engine, settings)


def main(settings: LifecycleSettings | None = None, once: bool | None = None) -> None:
    settings = settings or LifecycleSettings()
    lifecycle = build(settings)
    if once if once is not None else "--once" in sys.argv:
        configure_logging()
        lifecycle.tick()
        return
    run_periodic(
        "lifecycle",
        settings,
        lifecycle.tick,
        settings.lifecycle_interval_s,
        lifecycle.engine,
        default_port=PROCESSES["lifecycle"].port,
        retry_in=lambda failures: min(30.0 * 2 ** (failures - 1), settings.lifecycle_interval_s),
    )


if __name__ == "__main__":
    main()
