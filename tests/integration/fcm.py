"""Push-sender helpers of the integration tests; the emulator harness is ``deploy.fcm_emulator.harness``."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from confluent_kafka import Producer
from sqlalchemy import create_engine, text

from deploy.fcm_emulator.harness import FcmEmulator
from sinks.postgres.tokens import register_token
from streams.messages import PUSH_REQUEST, Priority, PushRequest, utcnow
from streams.serde import AvroSerde, SchemaStore
from streams.topics import PUSH
from tests.integration.helpers import produce_raw, start

SENDER = "processors.push"


def device(user: str, n: int = 0) -> str:
    """A token that looks like an FCM registration token and is unique per test."""
    return f"{user}-{n}:APA91b{uuid.uuid4().hex}"


def register(pipeline, devices: dict[str, list[str]], now: datetime | None = None, platform: str = "android") -> None:
    """Registers each user's tokens, the first one newest."""
    now = now or utcnow()
    engine = create_engine(pipeline.settings.database_url)
    with engine.begin() as conn:
        for user, tokens in devices.items():
            for age, token in enumerate(tokens):
                register_token(conn, token=token, user_id=user, platform=platform, now=now - timedelta(minutes=age))
    engine.dispose()


def push_request(user: str, event_type: str = "LAB_RESULT_RECEIVED", **fields) -> PushRequest:
    now = utcnow()
    base = dict(
        notification_id=uuid.uuid4(),
        user_id=user,
        organization_id="org-1",
        event_type=event_type,
        priority=Priority.HIGH,
        occurred_at=now,
        requested_at=now,
        event_id=uuid.uuid4(),
        resource_type="Observation",
        resource_id=f"observation-{uuid.uuid4().hex[:8]}",
    )
    return PushRequest(**{**base, **fields})


def publish_requests(pipeline, requests: list[PushRequest], partition: int | None = None) -> None:
    """PushRequests on the pipeline's push topic (on one ``partition`` when given)."""
    serde = AvroSerde(PUSH_REQUEST, SchemaStore())
    if partition is None:
        produce_raw(pipeline, PUSH, [(r.key, serde.encode(r.to_avro())) for r in requests])
        return
    producer = Producer({"bootstrap.servers": pipeline.settings.kafka_bootstrap})
    for r in requests:
        producer.produce(pipeline.topic(PUSH), serde.encode(r.to_avro()), r.key, partition=partition)
    assert producer.flush(30) == 0


def add_bell_rows(pipeline, requests: list[PushRequest]) -> None:
    """The user_notifications rows the fan-out would have written (push_status pending)."""
    engine = create_engine(pipeline.settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, priority, "
                "reason, occurred_at, push_status) VALUES (:nid, :user, 'org-1', :eid, :type, 'HIGH', 'care_team', now(), 'pending')"
            ),
            [{"nid": r.notification_id, "user": r.user_id, "eid": r.event_id, "type": r.event_type} for r in requests],
        )
    engine.dispose()


def start_sender(pipeline, tmp_path, emulator: FcmEmulator, **env):
    settings = {
        "HERALD_FCM_ENDPOINT": emulator.url,
        "HERALD_PUSH_RETRY_BASE_S": "0.2",
        "HERALD_PUSH_RETRY_POLL_S": "0.05",
        "HERALD_BATCH_TIMEOUT_S": "0.1",
        **env,
    }
    return start(pipeline, SENDER, tmp_path, **settings)


def delivered(emulator: FcmEmulator) -> list[tuple[str, str]]:
    """(notification id, token) of every message the emulator accepted, duplicates kept."""
    return [(m["message"]["data"]["notification_id"], m["token"]) for m in emulator.messages()]


def sender_caught_up(pipeline) -> bool:
    """The push sender committed past the last record of every partition. (End offsets would not do:
    a transactional producer, e.g. the DLQ replay, leaves a commit marker there.)"""
    from cli.demo_push import caught_up

    return caught_up(pipeline.settings, "push-sender", PUSH)
