"""Both framings, schema resolution, and clear errors for bytes that are not a record."""

from __future__ import annotations

import io
import json
import random
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import fastavro
import pytest

from cli.produce import demo_event_list
from processors.demo.traffic import build_world
from streams.errors import DecodeError
from streams.messages import ACTIVITY_EVENT, DIRECTORY_CHANGE, PUSH_REQUEST, ActivityEvent, Priority, PushRequest
from streams.serde import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC, AvroSerde, SchemaStore, registry_client

STORE = SchemaStore()


def an_event(**overrides) -> ActivityEvent:
    fields = dict(
        event_id=uuid.uuid4(),
        event_type="LAB_RESULT_RECEIVED",
        title="Lab result",
        occurred_at=datetime(2026, 3, 8, 7, 30, tzinfo=timezone.utc),
        organization_id="org-1",
        patient_id="p-1",
        attributes={"lab": "K+"},
        notify=True,
    )
    return ActivityEvent(**{**fields, **overrides})


def test_single_object_encoding_round_trips_with_the_fingerprint_header():
    serde = AvroSerde(ACTIVITY_EVENT, STORE)
    event = an_event()

    data = serde.encode(event.to_avro())

    assert data[:2] == SINGLE_OBJECT_MAGIC and data[2:10] == STORE.latest(ACTIVITY_EVENT).fingerprint
    assert ActivityEvent.from_avro(serde.decode(data)) == event


def test_confluent_framing_round_trips_through_the_mock_registry():
    registry = registry_client("mock://serde-test")
    writer = AvroSerde(ACTIVITY_EVENT, STORE, registry=registry, subject="t-value")
    reader = AvroSerde(ACTIVITY_EVENT, STORE, registry=registry)
    event = an_event()

    data = writer.encode(event.to_avro())

    assert data[:1] == CONFLUENT_MAGIC
    assert ActivityEvent.from_avro(reader.decode(data)) == event


def test_a_reader_without_registry_still_reads_single_object_records_from_any_writer():
    registry_written = AvroSerde(ACTIVITY_EVENT, STORE).encode(an_event().to_avro())
    assert AvroSerde(ACTIVITY_EVENT, STORE, registry=registry_client("mock://other")).decode(registry_written)


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty value"),
        (None, "empty value"),
        (b"hello world", "unknown framing"),
        (SINGLE_OBJECT_MAGIC + b"\x01" * 8 + b"\x00", "unknown schema fingerprint"),
        (CONFLUENT_MAGIC + b"\x00\x00\x00\x07" + b"\x00", "no schema registry is configured"),
    ],
    ids=["empty", "none", "text", "unknown-fingerprint", "confluent-without-registry"],
)
def test_bytes_that_are_not_a_record_raise_decode_error_with_the_reason(data, reason):
    with pytest.raises(DecodeError, match=reason):
        AvroSerde(ACTIVITY_EVENT, STORE).decode(data)


def test_a_truncated_body_is_a_decode_error():
    data = AvroSerde(ACTIVITY_EVENT, STORE).encode(an_event().to_avro())
    with pytest.raises(DecodeError, match="corrupt Avro body"):
        AvroSerde(ACTIVITY_EVENT, STORE).decode(data[:30])


def test_an_old_writer_is_resolved_onto_a_newer_reader(tmp_path: Path):
    """Given v1 and a v2 that adds a defaulted field, a v1 record decodes with v2's default."""
    folder = tmp_path / "schemas"
    folder.mkdir()
    v1 = Path(STORE.latest(ACTIVITY_EVENT).path)
    shutil.copy(v1, folder / "activity_event.v1.avsc")
    v2 = json.loads(v1.read_text())
    v2["fields"].append({"name": "correlation_id", "type": ["null", "string"], "default": None})
    (folder / "activity_event.v2.avsc").write_text(json.dumps(v2))
    old_writer = AvroSerde(ACTIVITY_EVENT, STORE)
    new_reader = AvroSerde(ACTIVITY_EVENT, SchemaStore(str(folder)))

    decoded = new_reader.decode(old_writer.encode(an_event().to_avro()))

    assert new_reader.reader.version == 2
    assert decoded["correlation_id"] is None and decoded["organization_id"] == "org-1"


def test_a_schema_without_namespace_or_doc_is_refused(tmp_path: Path):
    (tmp_path / "thing.v1.avsc").write_text(json.dumps({"type": "record", "name": "Thing", "fields": []}))
    with pytest.raises(ValueError, match="namespace and a doc"):
        SchemaStore(str(tmp_path))


def _every_kind_of_record():
    """Demo traffic (every event type), events using every optional field, push requests, directory records."""
    events = demo_event_list(1500, seed=21)
    full = ActivityEvent(
        uuid.uuid4(),
        "LAB_RESULT_CRITICAL",
        datetime(2026, 3, 1, 1, 2, 3, 456789, tzinfo=timezone.utc),
        "org-ü",
        "Tïtle ✓",
        priority=Priority.URGENT,
        actor_user_id="a",
        patient_id="p",
        encounter_id="e",
        resource_type="Observation",
        resource_id="r",
        practitioner_user_id="d",
        description="x" * 3000,
        notify=True,
        visibility="all_members",
        attributes={"k": "v", "ü": "✓"},
        source="lab",
    )
    pushes = [
        PushRequest(
            uuid.uuid4(),
            f"u{i}",
            "org",
            "LAB_RESULT_RECEIVED",
            p,
            datetime(2026, 1, 1, tzinfo=timezone.utc),
            datetime(2026, 1, 1, 0, 0, 1, tzinfo=timezone.utc),
            event_id=uuid.uuid4(),
        )
        for i, p in enumerate(Priority)
    ]
    world = build_world(
        random.Random(5),
        datetime(2026, 1, 1, tzinfo=timezone.utc),
        organizations=1,
        users_per_org=10,
        patients_per_org=10,
    )
    return (
        [(ACTIVITY_EVENT, e.to_avro()) for e in events + [full]]
        + [(PUSH_REQUEST, p.to_avro()) for p in pushes]
        + [(DIRECTORY_CHANGE, c.to_avro()) for c in world.directory(datetime(2026, 1, 1, tzinfo=timezone.utc))]
    )


def test_the_fast_decoder_reads_exactly_what_fastavro_reads():
    store = SchemaStore()
    records = _every_kind_of_record()
    assert {name for name, _ in records} == {ACTIVITY_EVENT, PUSH_REQUEST, DIRECTORY_CHANGE}
    for name, datum in records:
        serde = AvroSerde(name, store)
        data = serde.encode(datum)
        assert data[:10] == serde._header  # the fast path
        slow = fastavro.schemaless_reader(io.BytesIO(data[10:]), serde.reader.parsed, None)
        fast = serde.decode(data)
        uuids = {k for k, v in slow.items() if isinstance(v, uuid.UUID)}
        assert all(type(fast[k]) is str for k in uuids)  # uuid fields stay strings on the fast path
        assert fast == {k: str(v) if k in uuids else v for k, v in slow.items()}


def push_request(user_id: str, **overrides) -> PushRequest:
    fields = dict(
        notification_id=uuid.uuid4(),
        user_id=user_id,
        organization_id="org-1",
        event_type="ANNOUNCEMENT_URGENT",
        priority=Priority.URGENT,
        occurred_at=datetime(2026, 3, 8, 7, 30, tzinfo=timezone.utc),
        requested_at=datetime(2026, 3, 8, 7, 30, 1, tzinfo=timezone.utc),
        event_id=uuid.uuid4(),
    )
    return PushRequest(**{**fields, **overrides})


# user ids of 0, 63, 64 (two-byte length) and 9,000 bytes, and non-ASCII ones
USER_IDS = ["", "u" * 63, "u" * 64, "u" * 9000, "ärztin-ø", "医生-1", "nurse-00042"]


@pytest.mark.parametrize("registry", [None, "mock://heads"])
def test_records_spliced_onto_a_shared_tail_are_the_bytes_fastavro_writes(registry):
    serde = AvroSerde(PUSH_REQUEST, STORE, registry=registry_client(registry) if registry else None)
    first = push_request("actor-0")
    pushes = [push_request(user_id, event_id=first.event_id) for user_id in USER_IDS]

    spliced = serde.encode_with_heads(first.to_avro(), [p.head() for p in pushes])

    assert spliced == [serde.encode(p.to_avro()) for p in pushes]
    assert [PushRequest.from_avro(serde.decode(data)) for data in spliced] == pushes


def test_only_leading_string_fields_can_be_spliced():
    with pytest.raises(ValueError, match="not all strings"):
        AvroSerde(ACTIVITY_EVENT, STORE).encode_with_heads(an_event().to_avro(), [("a", "b", "c")])
    with pytest.raises(ValueError, match="not all strings"):  # PushRequest's 4th field is 'kind', its 5th a union
        AvroSerde(PUSH_REQUEST, STORE).encode_with_heads(push_request("u").to_avro(), [("a", "b", "c", "d", "e")])
    assert AvroSerde(PUSH_REQUEST, STORE).encode_with_heads(push_request("u").to_avro(), []) == []
