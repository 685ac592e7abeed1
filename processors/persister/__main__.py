"""``herald run persister`` / ``python -m processors.persister``."""

from __future__ import annotations

from processors.persister.app import Persister, PersisterSink
from processors.persister.settings import PersisterSettings
from processors.registry import PROCESSES
from sinks.postgres.activity import ActivityEventSink
from sinks.postgres.activity_rows import row_from_avro
from sinks.postgres.engine import build_engine
from streams.app import build_runtime, configure_logging
from streams.decoder import Decoder
from streams.health import serve_consumer
from streams.messages import ACTIVITY_EVENT
from streams.serde import AvroSerde, SchemaStore, registry_client

PROCESS = PROCESSES["persister"]


def main(settings: PersisterSettings | None = None) -> None:
    configure_logging()
    settings = settings or PersisterSettings()
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore(), registry=registry_client(settings.schema_registry_url))
    engine = build_engine(settings.database_url)
    runtime = build_runtime(
        settings,
        processor=Persister(),
        group=PROCESS.consumer_group,
        topics=list(PROCESS.inputs),
        dead_letters=PROCESS.dead_letters,
        decode=Decoder(serde, row_from_avro),
        sink=PersisterSink(ActivityEventSink(engine, settings.persist_strategy)),
        pipelined=True,
    )
    serve_consumer(PROCESS.name, settings, runtime.hooks, default_port=PROCESS.port, engine=engine)
    runtime.install_signal_handlers()
    runtime.run()


if __name__ == "__main__":
    main()
