"""``herald run outbox-relay`` / ``python -m processors.outbox_relay``."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from sqlalchemy.engine import make_url

from processors.outbox_relay.app import OutboxRelay, broker_answers
from processors.outbox_relay.settings import OutboxRelaySettings
from processors.outbox_relay.wakeup import Wakeup
from processors.periodic import run_periodic
from processors.registry import PROCESSES
from sinks.postgres.engine import build_engine
from streams.clients import build_producer
from streams.messages import ACTIVITY_EVENT
from streams.retry import compute_backoff
from streams.serde import AvroSerde, SchemaStore
from streams.topics import ACTIVITY

PROCESS = PROCESSES["outbox-relay"]


def build_relay(settings: OutboxRelaySettings, engine=None) -> OutboxRelay:
    """The relay as ``main`` runs it; ``engine`` on the EMR's database (default: built from the settings).
    Its serde only checks payloads: the relay sends the bytes the writer stored and needs no registry."""
    engine = engine or build_engine(settings.outbox_database_url, pool_size=2)
    timeout_ms = settings.outbox_delivery_timeout_ms
    # Acknowledgements give up when the pass does: a record the broker never took is not left queued
    # behind the rolled-back pass, to be sent again by the next one anyway.
    overrides: dict[str, Any] = {"delivery.timeout.ms": timeout_ms, "linger.ms": 5}
    new_producer = partial(build_producer, settings, **overrides)
    return OutboxRelay(
        engine,
        new_producer(),
        AvroSerde(ACTIVITY_EVENT, SchemaStore()),
        settings.topic(ACTIVITY),
        table=settings.outbox_table,
        batch_size=settings.outbox_batch_size,
        delivery_timeout_s=timeout_ms / 1000 + 1,
        count_interval_s=settings.outbox_count_interval_s,
        rebuild_producer=new_producer,
    )


def main(settings: OutboxRelaySettings | None = None) -> None:
    """Passes until SIGTERM (the pass in hand finishes first): woken by the outbox's insert notifications,
    or every ``outbox_poll_s``; after failed passes, waits with exponential backoff. Live while the loop
    turns; ready while passes succeed, the EMR's database answers and the broker does."""
    settings = settings or OutboxRelaySettings()
    engine = build_engine(settings.outbox_database_url, pool_size=2)
    relay = build_relay(settings, engine)
    conninfo = make_url(settings.outbox_database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    stop = threading.Event()
    wakeup = Wakeup(conninfo, settings.outbox_table, stop, busy_s=settings.outbox_busy_poll_s)
    backoff = partial(compute_backoff, base=settings.outbox_retry_base_s, cap=settings.outbox_retry_cap_s, jitter=True)
    try:
        run_periodic(
            PROCESS.name,
            settings,
            relay.tick,
            settings.outbox_poll_s,
            engine,
            default_port=PROCESS.port,
            ready={"broker": broker_answers(relay)},
            stop=stop,
            wait=wakeup.wait,
            retry_in=backoff,
        )
    finally:
        wakeup.close()


if __name__ == "__main__":
    main()
