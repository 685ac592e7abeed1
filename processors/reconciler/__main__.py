"""``herald run reconciler`` / ``python -m processors.reconciler [--once]``."""
from __future__ import annotations

import sys

from processors.fanout.loader import FanoutLoader
from processors.periodic import run_periodic
from processors.reconciler.app import Reconciler
from sinks.postgres.engine import build_engine
from streams.app import configure_logging
from streams.clients import build_producer
from streams.messages import PUSH_REQUEST
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.settings import FanoutSettings
from streams.topics import PUSH


def build(settings: FanoutSettings) -> Reconciler:
    engine = build_engine(settings.database_url)
    topic = settings.topic(PUSH)
    serde = AvroSerde(PUSH_REQUEST, SchemaStore(), registry=registry_client(settings.schema_registry_url),
                      subject=f"{topic}-value")
    return Reconciler(engine, FanoutLoader(engine), build_producer(settings), serde, topic,
                      grace_s=settings.reconciler_grace_s)


def main(settings: FanoutSettings | None = None, once: bool | None = None) -> None:
    settings = settings or FanoutSettings()
    reconciler = build(settings)
    if once if once is not None else "--once" in sys.argv:
        configure_logging()
        total = 0
        while (count := reconciler.tick()):
            total += count
        print(f"reconciled {total} events")
        return
    run_periodic("reconciler", settings, reconciler.tick_and_log, settings.reconciler_interval_s, reconciler.engine)


if __name__ == "__main__":
    main()
