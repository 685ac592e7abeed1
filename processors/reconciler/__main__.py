"""``herald run reconciler`` / ``python -m processors.reconciler [--once]``."""

from __future__ import annotations

import sys

from processors.notifications_io.loader import DirectoryLoader
from processors.periodic import run_periodic
from processors.reconciler.app import Reconciler, event_dead_letter
from processors.reconciler.settings import ReconcilerSettings
from processors.registry import PROCESSES
from sinks.postgres.engine import build_engine
from streams.app import configure_logging
from streams.clients import build_producer
from streams.messages import ACTIVITY_EVENT, PUSH_REQUEST
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.topics import ACTIVITY, ACTIVITY_DLQ, PUSH


def build(settings: ReconcilerSettings) -> Reconciler:
    engine = build_engine(settings.database_url)
    topic = settings.topic(PUSH)
    store, registry = SchemaStore(), registry_client(settings.schema_registry_url)
    serde = AvroSerde(PUSH_REQUEST, store, registry=registry, subject=f"{topic}-value")
    activity = AvroSerde(ACTIVITY_EVENT, store, registry=registry, subject=f"{settings.topic(ACTIVITY)}-value")
    return Reconciler(
        engine,
        DirectoryLoader(engine),
        build_producer(settings),
        serde,
        topic,
        grace_s=settings.reconciler_grace_s,
        dead_letter=event_dead_letter(activity, settings.topic(ACTIVITY), settings.topic(ACTIVITY_DLQ)),
    )


def main(settings: ReconcilerSettings | None = None, once: bool | None = None) -> None:
    settings = settings or ReconcilerSettings()
    reconciler = build(settings)
    if once if once is not None else "--once" in sys.argv:
        configure_logging()
        total = 0
        while count := reconciler.tick():
            total += count
        print(f"reconciled {total} events")
        return
    run_periodic(
        "reconciler",
        settings,
        reconciler.tick_and_log,
        settings.reconciler_interval_s,
        reconciler.engine,
        default_port=PROCESSES["reconciler"].port,
    )


if __name__ == "__main__":
    main()
