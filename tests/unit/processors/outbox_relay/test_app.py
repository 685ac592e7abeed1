"""The relay's pass without services: how each row's fate is decided, and the claim's shape."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException

from processors.outbox_relay import app, metrics
from processors.outbox_relay.app import OutboxRelay, _Row, claim_sql, dead_letter_sql
from streams.errors import ClientFatal, ProduceFailed
from streams.messages import ACTIVITY_EVENT, ActivityEvent, utcnow
from streams.outbox_schema import RELAY_LOCK_CLASS
from streams.serde import AvroSerde, SchemaStore

SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())


def payload() -> bytes:
    return SERDE.encode(ActivityEvent(uuid.uuid4(), "PATIENT_REGISTERED", utcnow(), "org-1", "t").to_avro())


class FakeProducer:
    """Acknowledges at flush; ``refuse``: key -> error raised by produce(); ``fail``: key -> delivery error."""

    def __init__(self, refuse=None, fail=None, pending: int = 0) -> None:
        self.refuse, self.fail, self.pending = refuse or {}, fail or {}, pending
        self.sent: list[tuple[str, bytes, bytes]] = []
        self._callbacks: list = []

    def produce(self, topic, value, key, on_delivery):
        if key in self.refuse:
            raise KafkaException(self.refuse[key])
        self.sent.append((topic, key, value))
        self._callbacks.append((on_delivery, self.fail.get(key)))

    def flush(self, timeout):
        for callback, err in self._callbacks:
            callback(err, None)
        self._callbacks = []
        return self.pending


def relay(producer, **kwargs) -> OutboxRelay:
    return OutboxRelay(None, producer, SERDE, "emr.activity-events.v1", **kwargs)  # type: ignore[arg-type]


def rows(*keys: str) -> list[_Row]:
    return [_Row(uuid.uuid4(), key, payload()) for key in keys]


def test_every_good_row_is_produced_with_its_key_and_acknowledged():
    producer = FakeProducer()
    batch = rows("pat-1", "pat-2")
    assert relay(producer)._produce(batch) == []
    assert [(k, v) for _, k, v in producer.sent] == [(b"pat-1", batch[0].payload), (b"pat-2", batch[1].payload)]
    assert all(r.acked for r in batch)


def test_undecodable_and_refused_rows_are_dead_lettered_and_the_rest_is_sent():
    too_large = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too large")
    producer = FakeProducer(refuse={b"pat-big": too_large}, fail={b"pat-bad": KafkaError(KafkaError.INVALID_RECORD)})
    batch = rows("pat-1", "pat-big", "pat-bad", "pat-1")
    batch.insert(1, _Row(uuid.uuid4(), "pat-1", b"garbage"))
    dead = relay(producer)._produce(batch)
    reasons = {row.aggregateid: reason for row, reason in dead}
    assert reasons["pat-1"].startswith("undecodable: unknown framing")
    assert reasons["pat-big"].startswith("refused: MSG_SIZE_TOO_LARGE")
    assert reasons["pat-bad"].startswith("refused: INVALID_RECORD")
    assert [r.acked for r in batch] == [True, False, False, False, True]


def test_a_transient_delivery_failure_fails_the_pass():
    producer = FakeProducer(fail={b"pat-2": KafkaError(KafkaError._MSG_TIMED_OUT)})
    with pytest.raises(ProduceFailed, match="delivery failed"):
        relay(producer)._produce(rows("pat-1", "pat-2"))


def test_a_transient_refusal_at_produce_fails_the_pass():
    producer = FakeProducer(refuse={b"pat-1": KafkaError(KafkaError._UNKNOWN_TOPIC)})
    with pytest.raises(ProduceFailed, match="produce refused"):
        relay(producer)._produce(rows("pat-1"))


def test_records_not_acknowledged_in_time_fail_the_pass():
    with pytest.raises(ProduceFailed, match="not acknowledged"):
        relay(FakeProducer(pending=1))._produce(rows("pat-1"))


def test_a_fatal_producer_is_rebuilt_when_it_can_be_and_ends_the_process_otherwise():
    fatal = KafkaError(KafkaError._FATAL, "fenced", fatal=True)
    fresh = FakeProducer()
    rebuilding = relay(FakeProducer(fail={b"pat-1": fatal}), rebuild_producer=lambda: fresh)
    with pytest.raises(ProduceFailed):
        rebuilding._produce(rows("pat-1"))
    assert rebuilding._producer is fresh
    with pytest.raises(ClientFatal):
        relay(FakeProducer(fail={b"pat-1": fatal}))._produce(rows("pat-1"))


def test_a_failed_pass_counts_as_a_failure(monkeypatch):
    r = relay(FakeProducer())
    monkeypatch.setattr(r, "relay_once", lambda: (_ for _ in ()).throw(ProduceFailed("down")))
    before = app.FAILURES._value.get()
    with pytest.raises(ProduceFailed):
        r.tick()
    assert app.FAILURES._value.get() == before + 1


def test_a_full_batch_asks_for_another_pass_at_once(monkeypatch):
    r = relay(FakeProducer(), batch_size=2, count_interval_s=60)
    monkeypatch.setattr(r, "count", lambda: (0, 0.0))
    monkeypatch.setattr(r, "relay_once", lambda: app.PassReport(2, 2, 0))
    assert r.tick() is True
    monkeypatch.setattr(r, "relay_once", lambda: app.PassReport(1, 1, 0))
    assert r.tick() is False


def test_the_gauges_are_counted_every_interval_not_every_pass(monkeypatch):
    now = [0.0]
    r = relay(FakeProducer(), count_interval_s=5, clock=lambda: now[0])
    counts = []
    monkeypatch.setattr(r, "count", lambda: counts.append(now[0]) or (3, 1.5))
    monkeypatch.setattr(r, "relay_once", lambda: app.PassReport(0, 0, 0))
    for t in (0.0, 1.0, 4.9, 5.0, 6.0, 10.5):
        now[0] = t
        r.tick()
    assert counts == [0.0, 5.0, 10.5]
    assert metrics.ROWS._value.get() == 3 and metrics.OLDEST_AGE._value.get() == 1.5


def test_the_claim_tries_key_locks_only_within_an_ordered_window_and_stops_at_the_batch():
    sql = claim_sql("herald_outbox")
    window = sql.index("ORDER BY seq LIMIT :window")
    lock = sql.index(f"pg_try_advisory_xact_lock({RELAY_LOCK_CLASS}, hashtext(w.aggregateid))")
    assert window < lock < sql.index("LIMIT :batch") < sql.index("FOR UPDATE SKIP LOCKED")
    assert sql.rstrip().endswith("ORDER BY o.seq FOR UPDATE SKIP LOCKED")


def test_a_dead_row_moves_with_its_reason():
    sql = dead_letter_sql("herald_outbox")
    assert "DELETE FROM herald_outbox WHERE id = :id RETURNING *" in sql
    assert "INSERT INTO herald_outbox_dead" in sql and ":reason" in sql
