"""``herald run push-sender`` / ``python -m processors.push``."""

from __future__ import annotations

from datetime import timedelta

from processors.push.app import PushSender
from processors.push.metrics import PushHooks
from processors.push.retries import RetryPump
from processors.push.rules import PushPolicy
from processors.push.settings import PushSenderSettings
from processors.registry import PROCESSES
from sinks.fcm.client import FcmClient
from sinks.postgres.engine import build_engine, build_reader
from sinks.postgres.push import PushSink
from streams.app import build_runtime, configure_logging
from streams.clients import build_producer
from streams.decoder import Decoder
from streams.health import serve_consumer
from streams.messages import PUSH_REQUEST, PushRequest
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.topics import PUSH

PROCESS = PROCESSES["push-sender"]


def policy_of(settings: PushSenderSettings) -> PushPolicy:
    return PushPolicy(
        max_attempts=settings.push_max_attempts,
        retry_base_s=settings.push_retry_base_s,
        retry_cap_s=settings.push_retry_cap_s,
        ttl_s=settings.push_ttl_s,
        token_max_age=timedelta(days=settings.token_max_age_days),
    )


def main(settings: PushSenderSettings | None = None) -> None:
    configure_logging()
    settings = settings or PushSenderSettings()
    engine = build_engine(settings.database_url)
    push_topic = settings.topic(PUSH)
    serde = AvroSerde(
        PUSH_REQUEST,
        SchemaStore(),
        registry=registry_client(settings.schema_registry_url),
        subject=f"{push_topic}-value",
    )
    hooks, policy, fcm = PushHooks(), policy_of(settings), FcmClient(settings)
    sender = PushSender(
        reader=build_reader(settings.database_url),
        fcm=fcm,
        encode=lambda r: serde.encode(r.to_avro()),
        policy=policy,
        hooks=hooks,
    )
    runtime = build_runtime(
        settings,
        processor=sender,
        group=PROCESS.consumer_group,
        topics=list(PROCESS.inputs),
        dead_letters=PROCESS.dead_letters,
        decode=Decoder(serde, PushRequest.from_avro),
        sink=PushSink(engine, on_first_accepted=hooks.on_first_accepted),
        transactional=True,
        pipelined=True,
    )
    pump = RetryPump(
        engine=engine,
        producer=build_producer(settings),
        topic=push_topic,
        poll_s=settings.push_retry_poll_s,
        token_max_age=policy.token_max_age,
        prune_interval_s=settings.token_prune_interval_s,
        hooks=hooks,
    )
    serve_consumer(PROCESS.name, settings, runtime.hooks, default_port=PROCESS.port, engine=engine)
    runtime.install_signal_handlers()
    pump.start()
    try:
        runtime.run()
    finally:
        pump.stop()
        fcm.close()


if __name__ == "__main__":
    main()
