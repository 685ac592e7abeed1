"""``herald run fanout`` / ``python -m processors.fanout``."""

from __future__ import annotations

from processors.fanout.app import Fanout
from processors.fanout.settings import FanoutSettings
from processors.notifications_io.loader import DirectoryLoader
from processors.registry import PROCESSES
from sinks.postgres.engine import build_engine
from sinks.postgres.notifications import NotificationSink
from streams.app import build_runtime, configure_logging
from streams.decoder import Decoder
from streams.health import serve_consumer
from streams.messages import ACTIVITY_EVENT, PUSH_REQUEST, ActivityEvent
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.topics import ACTIVITY, PUSH


def main(settings: FanoutSettings | None = None) -> None:
    configure_logging()
    settings = settings or FanoutSettings()
    registry, store = registry_client(settings.schema_registry_url), SchemaStore()
    engine = build_engine(settings.database_url)
    push_topic = settings.topic(PUSH)
    fanout = Fanout(
        DirectoryLoader(engine),
        AvroSerde(PUSH_REQUEST, store, registry=registry, subject=f"{push_topic}-value"),
        push_topic,
    )
    runtime = build_runtime(
        settings,
        processor=fanout,
        group="fanout",
        topics=[ACTIVITY],
        dead_letters=PROCESSES["fanout"].dead_letters,
        decode=Decoder(AvroSerde(ACTIVITY_EVENT, store, registry=registry), ActivityEvent.from_avro),
        sink=NotificationSink(engine),
        transactional=settings.exactly_once,
        pipelined=True,
    )
    serve_consumer("fanout", settings, runtime.hooks, default_port=PROCESSES["fanout"].port, engine=engine)
    runtime.install_signal_handlers()
    runtime.run()


if __name__ == "__main__":
    main()
