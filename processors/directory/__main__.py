"""``herald run directory`` / ``python -m processors.directory``."""
from __future__ import annotations

from processors.directory.app import DirectoryProcessor
from sinks.postgres.directory import DirectorySink
from sinks.postgres.engine import build_engine
from streams.app import build_runtime, configure_logging
from streams.decoder import Decoder
from streams.messages import DIRECTORY_CHANGE, DirectoryChange
from streams.health import serve_consumer
from streams.serde import AvroSerde, SchemaStore, registry_client
from processors.directory.settings import DirectorySettings
from streams.topics import DIRECTORY


def main(settings: DirectorySettings | None = None) -> None:
    configure_logging()
    settings = settings or DirectorySettings()
    serde = AvroSerde(DIRECTORY_CHANGE, SchemaStore(), registry=registry_client(settings.schema_registry_url))
    engine = build_engine(settings.database_url)
    runtime = build_runtime(settings, processor=DirectoryProcessor(), group="directory", topics=[DIRECTORY],
                            decode=Decoder(serde, DirectoryChange.from_avro, tombstones=True),
                            sink=DirectorySink(engine))
    serve_consumer("directory", settings, runtime.hooks, engine=engine)
    runtime.install_signal_handlers()
    runtime.run()


if __name__ == "__main__":
    main()
