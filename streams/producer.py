"""The producer SDK for EMR services: publishing never slows or breaks the caller's request.

``produce()`` only enqueues into librdkafka's bounded local queue; a background thread serves
delivery callbacks; the broker being down means records wait in the queue and are retried until
``delivery timeout``; a full queue or a final delivery failure is reported through ``on_failure``
and the ``herald_publish_failures_total`` metric, never raised into the request. Only an
*invalid* event raises, at the call, because that is the caller's bug and it must never reach Kafka.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from confluent_kafka import KafkaException, Producer

from streams import tracing
from streams.clients import producer_config
from streams.messages import ACTIVITY_EVENT, ActivityEvent, parse_priority, utcnow
from streams.metrics import PUBLISH_FAILED, PUBLISHED
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.settings import ProducerSettings
from streams.topics import ACTIVITY

log = logging.getLogger("herald.producer")


@dataclass(frozen=True)
class PublishFailure:
    """A record the SDK gave up on, handed to ``on_failure``."""

    topic: str
    key: bytes | None
    reason: str


class Publisher:
    """A non-blocking, idempotent Kafka producer with a background poll thread."""

    def __init__(
        self,
        settings: ProducerSettings,
        *,
        on_failure: Callable[[PublishFailure], None] | None = None,
        **overrides: Any,
    ) -> None:
        config = producer_config(
            settings,
            **{
                "linger.ms": settings.producer_linger_ms,
                "queue.buffering.max.messages": settings.producer_buffer_max_messages,
                "delivery.timeout.ms": settings.producer_delivery_timeout_ms,
                **overrides,
            },
        )
        self._producer = Producer(config)
        self._on_failure = on_failure
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="herald-publisher-poll", daemon=True)
        self._poller.start()

    def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, str | bytes | None]] | None = None
    ) -> bool:
        """Enqueues one record; returns False (and reports) when the local buffer is full."""
        try:
            self._producer.produce(topic, value, key, headers=headers, on_delivery=self._on_delivery)
            return True
        except BufferError:
            self._fail(topic, key, "local buffer full")
        except KafkaException as exc:
            self._fail(topic, key, str(exc.args[0]))
        return False

    def flush(self, timeout: float = 30.0) -> int:
        """Waits for outstanding deliveries; returns how many are still pending."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 30.0) -> int:
        """Stops the poll thread and flushes; call once at shutdown."""
        self._closed.set()
        self._poller.join()
        return self.flush(timeout)

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.1)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            PUBLISHED.labels(msg.topic()).inc()
        else:
            self._fail(msg.topic(), msg.key(), err.str())

    def _fail(self, topic: str, key: bytes | None, reason: str) -> None:
        PUBLISH_FAILED.labels(topic, "buffer_full" if "buffer" in reason else "delivery").inc()
        log.warning("publish to %s failed: %s", topic, reason)
        if self._on_failure is not None:
            self._on_failure(PublishFailure(topic, key, reason))


def activity_event(
    *,
    event_type: str,
    organization_id: str,
    title: str,
    priority: str | None = None,
    patient_id: str | None = None,
    actor_user_id: str | None = None,
    description: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    notify: bool = False,
    encounter_id: str | None = None,
    practitioner_user_id: str | None = None,
    visibility: str | None = None,
    attributes: dict[str, str] | None = None,
    source: str = "",
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> ActivityEvent:
    """The validated event of ``emit_activity_event``'s keyword arguments (the SDK's and the outbox's:
    streams/outbox.py); raises InvalidEvent naming the first broken rule."""
    return ActivityEvent(
        event_id=event_id or uuid.uuid4(),
        event_type=event_type,
        occurred_at=occurred_at or utcnow(),
        organization_id=organization_id,
        title=title,
        priority=parse_priority(priority),
        actor_user_id=actor_user_id,
        patient_id=patient_id,
        encounter_id=encounter_id,
        resource_type=resource_type,
        resource_id=resource_id,
        practitioner_user_id=practitioner_user_id,
        description=description,
        notify=notify,
        visibility=visibility,
        attributes={str(k): str(v) for k, v in (attributes or {}).items()},
        source=source,
    ).validate()


class ActivityPublisher:
    """``emit_activity_event(...)`` for EMR services, with the EMR's keyword arguments."""

    def __init__(self, publisher: Publisher, serde: AvroSerde, topic: str) -> None:
        self._publisher = publisher
        self._serde = serde
        self.topic = topic

    @classmethod
    def from_settings(cls, settings: ProducerSettings, **kwargs: Any) -> "ActivityPublisher":
        registry = registry_client(settings.schema_registry_url)
        tracing.configure("herald-sdk")  # the host's tracer provider, or OTEL_TRACES_EXPORTER's (streams/tracing.py)
        topic = settings.topic(ACTIVITY)
        serde = AvroSerde(ACTIVITY_EVENT, SchemaStore(), registry=registry, subject=f"{topic}-value")
        return cls(Publisher(settings, **kwargs), serde, topic)

    def emit_activity_event(
        self,
        *,
        event_type: str,
        organization_id: str,
        title: str,
        priority: str | None = None,
        patient_id: str | None = None,
        actor_user_id: str | None = None,
        description: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        notify: bool = False,
        encounter_id: str | None = None,
        practitioner_user_id: str | None = None,
        visibility: str | None = None,
        attributes: dict[str, str] | None = None,
        source: str = "",
        occurred_at: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Validates, encodes and enqueues one event; returns its id. Raises InvalidEvent on a bad event."""
        event = activity_event(
            event_type=event_type,
            organization_id=organization_id,
            title=title,
            priority=priority,
            patient_id=patient_id,
            actor_user_id=actor_user_id,
            description=description,
            resource_type=resource_type,
            resource_id=resource_id,
            notify=notify,
            encounter_id=encounter_id,
            practitioner_user_id=practitioner_user_id,
            visibility=visibility,
            attributes=attributes,
            source=source,
            occurred_at=occurred_at,
            event_id=event_id,
        )
        self.publish(event)
        return event.event_id

    async def emit_activity_event_async(self, **kwargs: Any) -> uuid.UUID:
        """The same, for ``async`` request handlers; it never awaits the broker."""
        return self.emit_activity_event(**kwargs)

    def publish(self, event: ActivityEvent) -> bool:
        """Enqueues an already built event (used by replays and the demo); raises InvalidEvent on a bad one.
        With tracing on, a ``publish`` span whose context the record's headers carry (ids and type only)."""
        value = self.encode(event.validate())
        if not tracing.ACTIVE:
            return self._publisher.publish(self.topic, event.key, value)
        ids = {"herald.event.id": str(event.event_id), "herald.event.type": event.event_type}
        with tracing.publishing(self.topic, ids) as headers:
            return self._publisher.publish(self.topic, event.key, value, list(headers) or None)

    def encode(self, event: ActivityEvent) -> bytes:
        """The record value ``publish`` would send (registry framing + Avro), to publish later as bytes."""
        return self._serde.encode(event.to_avro())

    @property
    def publisher(self) -> Publisher:
        """The underlying Publisher, to send other records (the demo's directory) on the same producer."""
        return self._publisher

    def close(self, timeout: float = 30.0) -> int:
        return self._publisher.close(timeout)
