"""What the relay does with one row, as pure functions: is its payload a record Herald can read, and is a
broker's refusal final (dead-letter the row) or passing (roll back and retry the pass)."""

from __future__ import annotations

from confluent_kafka import KafkaError

from streams.errors import DecodeError
from streams.serde import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, AvroSerde

# Refusals about the record itself: sending it again can never succeed. Anything else (the broker down, a
# timeout, a leader moving, a missing topic, an authorization refused) is the deployment's, not the row's:
# the pass is rolled back and retried, and the rows wait in the outbox.
FINAL_CODES = frozenset(
    {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD, KafkaError.INVALID_MSG}
)


def payload_problem(payload: bytes | None, serde: AvroSerde) -> str | None:
    """Why ``payload`` is not a record the activity topic's readers can decode, or None. A single-object
    record is decoded in full (its schemas are local); a registry-framed one is checked to its header only,
    since reading its schema would make a registry outage look like a bad row."""
    if not payload:
        return "empty payload"
    if payload[:1] == CONFLUENT_MAGIC:
        return None if len(payload) > 5 else "registry framing without a body"
    if payload[:2] != SINGLE_OBJECT_MAGIC:
        return f"unknown framing (first bytes {payload[:2].hex()})"
    try:
        serde.decode(payload)
    except DecodeError as exc:
        return str(exc)[:200]
    return None


def refused_for_good(error: KafkaError) -> bool:
    """True when the broker (or the client, before sending) refused the record itself."""
    return error.code() in FINAL_CODES and not error.fatal()
