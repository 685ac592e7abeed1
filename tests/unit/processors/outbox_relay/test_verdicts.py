"""Which payloads the relay sends and which broker refusals dead-letter a row."""

from __future__ import annotations

import uuid

from confluent_kafka import KafkaError

from processors.outbox_relay.verdicts import payload_problem, refused_for_good
from streams.messages import ACTIVITY_EVENT, ActivityEvent, utcnow
from streams.serde import AvroSerde, SchemaStore

SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())
EVENT = ActivityEvent(uuid.uuid4(), "PATIENT_REGISTERED", utcnow(), "org-1", "Registered")


def test_an_sdk_record_is_sent():
    assert payload_problem(SERDE.encode(EVENT.to_avro()), SERDE) is None


def test_an_empty_or_missing_payload_is_a_problem():
    assert payload_problem(None, SERDE) == payload_problem(b"", SERDE) == "empty payload"


def test_unknown_framing_is_a_problem():
    assert payload_problem(b'{"json": 1}', SERDE) == "unknown framing (first bytes 7b22)"


def test_a_corrupt_body_or_unknown_fingerprint_is_a_problem():
    good = SERDE.encode(EVENT.to_avro())
    assert "unknown schema fingerprint" in (payload_problem(good[:2] + b"\x00" * 8 + good[10:], SERDE) or "")
    assert payload_problem(good[:12], SERDE) is not None


def test_a_registry_framed_record_is_checked_to_its_header_only():
    # no registry is asked: an outage of the registry must not make a good row look bad
    assert payload_problem(b"\x00\x00\x00\x00\x07" + b"\x02body", SERDE) is None
    assert payload_problem(b"\x00\x00\x00\x00\x07", SERDE) == "registry framing without a body"


def test_only_refusals_of_the_record_itself_are_final():
    assert refused_for_good(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    assert refused_for_good(KafkaError(KafkaError.INVALID_RECORD))
    for passing in (
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
    ):
        assert not refused_for_good(KafkaError(passing))
    assert not refused_for_good(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, fatal=True))
