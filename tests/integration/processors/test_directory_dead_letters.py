"""The directory processor against real Kafka and Postgres: records it cannot apply go to its DLQ."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from cli.dlq import read_dlq
from cli.processes import wait_until
from streams.messages import DIRECTORY_CHANGE, DirectoryChange
from streams.serde import AvroSerde, SchemaStore
from streams.topics import DIRECTORY, DIRECTORY_DLQ
from tests.integration.helpers import lag, produce_raw, query, start

pytestmark = pytest.mark.integration
T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_given_bad_directory_records_then_they_land_in_its_dlq_with_a_reason_and_the_good_ones_are_stored(
    pipeline, tmp_path
):
    serde = AvroSerde(DIRECTORY_CHANGE, SchemaStore())
    ids = [f"dlq-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    before, after, other = (DirectoryChange("user", "o", i, T) for i in ids)
    records = [
        (before.key, serde.encode(before.to_avro())),
        (b"group:x", serde.encode(before.to_avro())),  # a key that is no directory key
        (f"user:{ids[2]}".encode(), serde.encode(after.to_avro())),  # filed under another user's key
        (b"user:garbage", b"\x00not avro"),  # undecodable
        (after.key, serde.encode(after.to_avro())),
    ]
    produce_raw(pipeline, DIRECTORY, records)

    start(pipeline, "processors.directory", tmp_path)
    wait_until(lambda: lag(pipeline, "directory", DIRECTORY) == 0, 60, what="the directory to catch up")

    dead = read_dlq(pipeline.settings, pipeline.topic(DIRECTORY_DLQ))
    got = {
        e.key: (e.headers["herald.error.type"], e.headers["herald.error.reason"], e.headers["herald.consumer.group"])
        for e in dead
    }
    group = pipeline.group("directory")
    assert got == {
        b"group:x": ("DirectoryKeyInvalid", "key is neither user:<id> nor care-team:<patient>:<user>", group),
        f"user:{ids[2]}".encode(): ("DirectoryKeyMismatch", "key's user id differs from the value's user_id", group),
        b"user:garbage": ("DecodeError", got[b"user:garbage"][1], group),
    }
    stored = query(pipeline, "SELECT user_id FROM directory_users WHERE user_id = ANY(:ids)", ids=ids)
    assert sorted(u for (u,) in stored) == sorted(ids[:2])  # around the bad ones; none under the wrong key
    assert other.user_id not in {u for (u,) in stored}
