"""``herald run escalator`` / ``python -m processors.escalator``."""

from __future__ import annotations

from processors.escalator.app import Escalator
from processors.escalator.metrics import declare
from processors.escalator.settings import EscalatorSettings
from processors.notifications.escalation_policy import DEFAULT_POLICIES
from processors.periodic import run_periodic
from processors.registry import PROCESSES
from sinks.postgres.engine import build_engine
from streams.clients import build_producer
from streams.messages import PUSH_REQUEST
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.topics import PUSH


def build(settings: EscalatorSettings) -> Escalator:
    engine = build_engine(settings.database_url)
    topic = settings.topic(PUSH)
    serde = AvroSerde(
        PUSH_REQUEST, SchemaStore(), registry=registry_client(settings.schema_registry_url), subject=f"{topic}-value"
    )
    return Escalator(
        engine,
        build_producer(settings),
        serde,
        topic,
        batch=settings.escalator_batch,
        overdue_s=settings.alert_overdue_s,
    )


def main(settings: EscalatorSettings | None = None) -> None:
    settings = settings or EscalatorSettings()
    escalator = build(settings)
    declare(DEFAULT_POLICIES)
    run_periodic(
        "escalator",
        settings,
        escalator.tick_and_log,
        settings.escalator_interval_s,
        escalator.engine,
        default_port=PROCESSES["escalator"].port,
    )


if __name__ == "__main__":
    main()
