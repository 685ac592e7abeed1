"""``herald run directory`` / ``python -m processors.directory``."""

from __future__ import annotations

from processors.directory.app import DirectoryProcessor
from processors.directory.settings import DirectorySettings
from processors.registry import PROCESSES
from sinks.postgres.directory import DirectorySink
from sinks.postgres.engine import build_engine
from streams.app import build_runtime, configure_logging
from streams.decoder import Decoder
from streams.health import serve_consumer
from streams.messages import DIRECTORY_CHANGE, DirectoryChange
from streams.serde import AvroSerde, SchemaStore, registry_client

PROCESS = PROCESSES["directory"]


def main(settings: DirectorySettings | None = None) -> None:
    configure_logging()
    settings = settings or DirectorySettings()
    serde = AvroSerde(DIRECTORY_CHANGE, SchemaStore(), registry=registry_client(settings.schema_registry_url))
    engine = build_engine(settings.database_url)
    runtime = build_runtime(
        settings,
        processor=DirectoryProcessor(),
        group=PROCESS.consumer_group,
        topics=list(PROCESS.inputs),
        dead_letters=PROCESS.dead_letters,
        decode=Decoder(serde, DirectoryChange.from_avro, tombstones=True),
        sink=DirectorySink(engine),
    )
    serve_consumer(PROCESS.name, settings, runtime.hooks, default_port=PROCESS.port, engine=engine)
    runtime.install_signal_handlers()
    runtime.run()


if __name__ == "__main__":
    main()
