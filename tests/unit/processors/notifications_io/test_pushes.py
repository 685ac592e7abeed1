"""push_outputs encodes runs of push requests that share a tail once; the bytes must not change."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

from processors.notifications_io.pushes import push_outputs
from streams.messages import PUSH_REQUEST, Priority, PushRequest
from streams.serde import AvroSerde, SchemaStore

SERDE = AvroSerde(PUSH_REQUEST, SchemaStore())
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def pushes_of(source: uuid.UUID, users: list[str], **fields) -> list[PushRequest]:
    base = dict(
        organization_id="org-1",
        event_type="LAB_RESULT_RECEIVED",
        priority=Priority.HIGH,
        occurred_at=NOW - timedelta(seconds=3),
        requested_at=NOW,
        event_id=source,
        resource_type="Observation",
        resource_id="obs-1",
    )
    return [PushRequest(notification_id=uuid.uuid5(source, u), user_id=u, **{**base, **fields}) for u in users]


def test_every_output_is_what_encoding_its_own_request_gives_whatever_the_mix_of_events():
    rng = random.Random(7)
    e1, e2, e3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    pushes = (
        pushes_of(e1, [f"u{i}" for i in range(50)])
        + pushes_of(e2, ["u1", "ü2"], priority=Priority.URGENT, resource_id=None, resource_type=None)
        + pushes_of(e3, ["u3"], kind="digest", digest_count=3, event_id=None)
        + pushes_of(e1, ["u9"], attempt=2)
    )  # same event, another tail: a retry
    mixed = pushes + rng.sample(pushes, len(pushes))  # interleaved runs too

    outputs = push_outputs(mixed, SERDE, "emr.notifications.push.v1")

    assert [o.value for o in outputs] == [SERDE.encode(p.to_avro()) for p in mixed]
    assert [o.key for o in outputs] == [p.user_id.encode() for p in mixed]
    assert {o.topic for o in outputs} == {"emr.notifications.push.v1"}


def test_the_head_is_the_schemas_leading_fields():
    names = [f["name"] for f in SERDE.reader.raw["fields"]]
    push = pushes_of(uuid.uuid4(), ["u1"])[0]
    assert names[:2] == ["notification_id", "user_id"]
    assert push.head() == (str(push.notification_id), push.user_id)
    assert len(push.tail()) == len(names) - 2


def test_given_trace_headers_by_event_then_each_push_carries_its_own_event_s_and_only_those():
    traced, other = uuid.uuid4(), uuid.uuid4()
    context = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    pushes = pushes_of(traced, ["u1", "u2"]) + pushes_of(other, ["u3"]) + pushes_of(traced, ["u4"], attempt=2)
    outputs = push_outputs(pushes, SERDE, "t.push", {traced: context}.get)
    assert [o.headers for o in outputs] == [context, context, None, context]
    assert all(o.headers is None for o in push_outputs(pushes, SERDE, "t.push"))
