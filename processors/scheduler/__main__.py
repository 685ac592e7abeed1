"""``herald run scheduler`` / ``python -m processors.scheduler``."""

from __future__ import annotations

from processors.notifications_io.loader import DirectoryLoader
from processors.periodic import run_periodic
from processors.registry import PROCESSES
from processors.scheduler.app import Scheduler
from processors.scheduler.settings import SchedulerSettings
from sinks.postgres.engine import build_engine
from streams.clients import build_producer
from streams.messages import PUSH_REQUEST
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.topics import PUSH


def main(settings: SchedulerSettings | None = None) -> None:
    settings = settings or SchedulerSettings()
    engine = build_engine(settings.database_url)
    topic = settings.topic(PUSH)
    serde = AvroSerde(
        PUSH_REQUEST, SchemaStore(), registry=registry_client(settings.schema_registry_url), subject=f"{topic}-value"
    )
    scheduler = Scheduler(engine, DirectoryLoader(engine), build_producer(settings), serde, topic)
    run_periodic(
        "scheduler",
        settings,
        scheduler.tick_and_log,
        settings.scheduler_interval_s,
        engine,
        default_port=PROCESSES["scheduler"].port,
    )


if __name__ == "__main__":
    main()
