"""``herald run lag-exporter`` / ``python -m processors.lag_exporter``."""

from __future__ import annotations

import signal
import threading

from prometheus_client import REGISTRY

from processors.lag_exporter.app import LagExporter
from processors.lag_exporter.exposition import LagMetrics
from processors.lag_exporter.settings import LagExporterSettings
from processors.registry import PROCESSES
from streams.app import configure_logging
from streams.health import Check, heartbeat_within, serve_process

PROCESS = PROCESSES["lag-exporter"]


def main(settings: LagExporterSettings | None = None) -> None:
    configure_logging()
    settings = settings or LagExporterSettings()
    exporter = LagExporter.from_settings(settings)
    REGISTRY.register(LagMetrics(exporter))
    silence_s = max(settings.liveness_timeout_s, 3 * settings.lag_interval_s + 2 * settings.lag_probe_timeout_s)
    serve_process(
        PROCESS.name,
        settings.metrics_port,
        default_port=PROCESS.port,
        live={"loop": heartbeat_within(lambda: exporter.last_loop_at, silence_s)},
        ready={"broker": lambda: fresh(exporter)},
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    exporter.run(settings.lag_interval_s, stop)


def fresh(exporter: LagExporter) -> Check:
    """Ready while the last successful collection is at most ``lag_stale_after_s`` old."""
    age = exporter.collection_age_s()
    if exporter.snapshot is None:
        return Check(False, f"no collection has succeeded yet ({age:.0f}s since start)")
    return Check(
        not exporter.stale(),
        f"last collection {age:.0f}s ago ({len(exporter.snapshot.groups)} groups, "
        f"stale after {exporter.stale_after_s:.0f}s)",
    )


if __name__ == "__main__":
    main()
