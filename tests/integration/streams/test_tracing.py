"""One event's trace across every hop, with the real Kafka, Postgres and FCM emulator.

The SDK publishes in this process into an in-memory exporter; the directory, persister, fan-out and
push sender run as processes, turned on by the OTEL_* variables alone, and export over OTLP/HTTP to a
receiver here. Their spans must join the publish span's trace: publish → persister record, fan-out
record (children of publish) → push-sender record (child of the fan-out's) → fcm send (its child),
each batch span linked to the records it carried; and no span may hold PHI.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cli.processes import wait_until
from processors.demo.traffic import _FIRST, _LAST, build_world, demo_events
from streams import tracing
from streams.producer import ActivityPublisher
from streams.settings import ProducerSettings
from streams.topics import ACTIVITY, DIRECTORY
from tests.integration.fcm import device, register, start_sender
from tests.integration.helpers import lag, publish_directory, set_preferences, start
from tests.integration.otlp import OtlpReceiver, ReceivedSpan

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)
ALLOWED = {  # attribute keys a Herald span may carry: ids, types, counts, coordinates
    "messaging.system",
    "messaging.operation.type",
    "messaging.destination.name",
    "messaging.destination.partition.id",
    "messaging.kafka.offset",
    "messaging.batch.message_count",
    "herald.processor",
    "herald.batch.sampled_records",
    "herald.event.id",
    "herald.event.type",
    "herald.fcm.messages",
}


@pytest.fixture
def otlp():
    receiver = OtlpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def published():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.disable()


def test_given_tracing_on_then_one_event_is_one_trace_from_publish_to_the_fcm_send(
    pipeline, fcm, tmp_path, otlp, published
):
    world = build_world(
        random.Random(21),
        NOW,
        organizations=1,
        users_per_org=15,
        patients_per_org=20,
        org_prefix=f"{uuid.uuid4().hex[:6]}-",
    )
    users = [u.user_id for org in world.organizations for u in org.users]
    publish_directory(pipeline, world.directory(NOW))
    start(pipeline, "processors.directory", tmp_path)
    wait_until(lambda: lag(pipeline, "directory", DIRECTORY) == 0, 60, what="the directory")
    set_preferences(pipeline, [{"user_id": u, "min_push_priority": "LOW"} for u in users])  # push everything
    register(pipeline, {u: [device(u)] for u in users})
    events = [
        dataclasses.replace(e, event_id=uuid.uuid4())
        for e in demo_events(world, random.Random(22), 40, NOW - timedelta(minutes=5))
    ]

    activity = ActivityPublisher.from_settings(
        ProducerSettings(kafka_bootstrap=pipeline.settings.kafka_bootstrap, topic_prefix=pipeline.settings.topic_prefix)
    )
    for event in events:
        activity.publish(event)
    assert activity.close(30) == 0

    env = otlp.env()
    start(pipeline, "processors.persister", tmp_path, **env)
    start(pipeline, "processors.fanout", tmp_path, **env)
    start_sender(pipeline, tmp_path, fcm, **env)
    wait_until(lambda: lag(pipeline, "persister", ACTIVITY) == 0, 90, what="the persister")
    wait_until(lambda: lag(pipeline, "fanout", ACTIVITY) == 0, 90, what="the fan-out")
    wait_until(lambda: len(fcm.messages()) > 0, 90, what="a push at the emulator")

    publishes = {s.context.trace_id: s for s in published.get_finished_spans() if s.name.endswith(" publish")}
    assert len(publishes) == len(events)  # one trace per event, each sampled

    def chains() -> list[list[ReceivedSpan]]:
        """publish → fan-out record → push-sender record → fcm send, within one trace."""
        spans = list(otlp.spans)
        found = []
        for send in (s for s in spans if s.name == "fcm send" and s.parent_id):
            push = next((s for s in spans if s.span_id == send.parent_id and s.name == "push-sender record"), None)
            fan = push and next((s for s in spans if s.span_id == push.parent_id and s.name == "fanout record"), None)
            root = fan and publishes.get(int(fan.trace_id, 16))
            if root is not None and fan.parent_id == f"{root.context.span_id:016x}":
                found.append([fan, push, send])
        return found

    wait_until(lambda: len(chains()) > 0, 60, interval=0.2, what="a whole trace at the receiver")
    wait_until(
        lambda: len({s.trace_id for s in otlp.spans if s.name == "persister record"}) == len(events),
        60,
        interval=0.2,
        what="every event's persister span",
    )

    fan, push, send = chains()[0]
    root = publishes[int(fan.trace_id, 16)]
    trace_id, root_id = fan.trace_id, f"{root.context.span_id:016x}"
    assert {push.trace_id, send.trace_id} == {trace_id}
    assert root.attributes["herald.event.type"] in {e.event_type for e in events}
    (stored,) = [s for s in otlp.spans if s.name == "persister record" and s.trace_id == trace_id]
    assert stored.parent_id == root_id and stored.service == "herald-persister"
    assert (fan.service, push.service, send.service) == ("herald-fanout", "herald-push-sender", "herald-push-sender")
    # each record span links back to its batch span, which links to the record's incoming context
    for record, incoming in ((stored, root_id), (fan, root_id), (push, fan.span_id)):
        (batch,) = [s for s in otlp.spans if (s.trace_id, s.span_id) == record.links[0]]
        assert batch.name.endswith(" process") and (trace_id, incoming) in batch.links
    batch_send = [s for s in otlp.spans if s.name == "fcm send" and (s.trace_id, s.span_id) in send.links]
    assert len(batch_send) == 1  # the batch's own FCM span, which this request's share points to

    names = {n for org in world.organizations for n in org.patients.values()} | set(_FIRST) | set(_LAST)
    names |= {u.display_name for org in world.organizations for u in org.users if getattr(u, "display_name", None)}
    texts = {e.title for e in events} | {e.description for e in events if e.description}
    texts |= {e.patient_id for e in events if e.patient_id}  # an id, but the patient's: kept out of traces too
    attributes = [dict(s.attributes) for s in published.get_finished_spans()] + [s.attributes for s in otlp.spans]
    assert len(attributes) > 3 * len(events)
    for attrs in attributes:
        assert set(attrs) <= ALLOWED, set(attrs) - ALLOWED
        values = " ".join(str(v) for v in attrs.values())
        assert not [w for w in names | texts if w and w in values], values
