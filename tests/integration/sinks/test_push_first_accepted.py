"""PushSink records when FCM first accepted a push of an urgent alert: once, whatever redoes and
replicas do, and tells the hook only about the alerts its own write set."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import text

from sinks.postgres.push import DeliveryRow, FirstAccepted, PushSink, PushWrites

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def raise_alert(engine, occurred_at: datetime = NOW, event_type: str = "LAB_RESULT_CRITICAL") -> uuid.UUID:
    event_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (event_id, organization_id, event_type, priority, occurred_at, raised_at, policy) "
                "VALUES (:e, 'org-1', :t, 'URGENT', :at, :at, '{}')"
            ),
            {"e": event_id, "t": event_type, "at": occurred_at},
        )
    return event_id


def first_accepted_at(engine, event_id: uuid.UUID) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT first_accepted_at FROM alerts WHERE event_id = :e"), {"e": event_id}).scalar()


def accepted(now: datetime, *event_ids: uuid.UUID) -> PushWrites:
    writes = PushWrites(now=now, accepted_alerts=set(event_ids))
    writes.deliveries = [DeliveryRow(uuid.uuid4(), f"tk-{uuid.uuid4().hex}", "u1", "sent", "m1", None, 1, NOW)]
    return writes


def test_the_first_accepted_push_is_recorded_once_and_told_once(engine):
    told: list[FirstAccepted] = []
    sink = PushSink(engine, on_first_accepted=told.extend)
    alert, other = raise_alert(engine, NOW - timedelta(seconds=9)), raise_alert(engine)
    first = accepted(NOW, alert)

    sink.write(first)
    sink.write(first)  # the batch redone after its transaction committed
    sink.write(accepted(NOW + timedelta(minutes=5), alert, other))  # a later step's push, and another alert's

    assert first_accepted_at(engine, alert) == NOW
    assert first_accepted_at(engine, other) == NOW + timedelta(minutes=5)
    assert [(a.event_id, a.event_type, a.seconds) for a in told] == [
        (alert, "LAB_RESULT_CRITICAL", 9.0),
        (other, "LAB_RESULT_CRITICAL", 300.0),
    ]


def test_a_rolled_back_write_tells_nothing_and_its_redo_records_the_alert(engine):
    told: list[FirstAccepted] = []
    sink = PushSink(engine, on_first_accepted=told.extend)
    alert = raise_alert(engine, NOW - timedelta(seconds=30))
    broken = accepted(NOW, alert)
    broken.deliveries.append(DeliveryRow(uuid.uuid4(), "tk-x", "u1", "sent" * 10, None, None, 1, NOW))  # too long

    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        sink.write(broken)
    assert first_accepted_at(engine, alert) is None and told == []

    sink.write(accepted(NOW + timedelta(seconds=1), alert))

    assert first_accepted_at(engine, alert) == NOW + timedelta(seconds=1)
    assert [a.seconds for a in told] == [31.0]


def test_two_replicas_recording_the_same_alerts_tell_each_alert_once(engine):
    alerts = [raise_alert(engine) for _ in range(20)]
    told: list[FirstAccepted] = []
    lock = threading.Lock()

    def tell(found: list[FirstAccepted]) -> None:
        with lock:
            told.extend(found)

    replicas = [PushSink(engine, on_first_accepted=tell) for _ in range(2)]
    orders = [alerts, list(reversed(alerts))]  # each replica's batch names the alerts in its own order
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(sink: PushSink, event_ids: list[uuid.UUID]) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                sink.write(accepted(NOW, *event_ids))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s, o)) for s, o in zip(replicas, orders, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    assert sorted(a.event_id for a in told) == sorted(alerts)
