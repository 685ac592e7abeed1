"""Tracing through record headers: off by default and free, on with spans that join one event's hops."""

from __future__ import annotations

import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind

from streams import tracing
from streams.records import Outcome, Output, Record
from streams.testing import FakeConsumer, FakeMessage, FakeProducer, ListSink
from tests.unit.streams.test_runtime import DLQ, TOPIC, event_bytes, runtime_of

SAMPLED = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNSAMPLED = b"00-0af7651916cd43dd8448eb211c80319d-b7ad6b7169203332-00"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.disable()


def record(offset: int, traceparent: bytes | None = None) -> Record:
    headers = [("traceparent", traceparent)] if traceparent else None
    return Record(object(), FakeMessage(TOPIC, 0, offset, b"v", None, headers))


def test_given_no_otel_variables_then_tracing_stays_off():
    assert tracing.configure("herald-test", environ={}) is False
    assert tracing.configure("herald-test", environ={"OTEL_TRACES_EXPORTER": "none"}) is False
    assert (
        tracing.configure("herald-test", environ={"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}) is False
    )
    assert tracing.ACTIVE is False


def test_given_an_exporter_herald_does_not_ship_then_configure_names_the_ones_it_does():
    with pytest.raises(ValueError, match="otlp"):
        tracing.configure("herald-test", environ={"OTEL_TRACES_EXPORTER": "zipkin"})
    assert tracing.ACTIVE is False


class Explodes:
    """A message whose headers must not be read: tracing off looks at no record."""

    def headers(self):
        raise AssertionError("headers read while tracing is off")


def test_given_tracing_off_then_a_batch_builds_nothing_and_reads_no_headers():
    batch = [Record(object(), Explodes()) for _ in range(3)]  # type: ignore[arg-type]
    assert tracing.start_batch("p", batch) is None
    assert tracing.handling(None) is tracing.handling(None)  # one shared no-op context, nothing allocated
    assert tracing.headers_of(batch[0].message) is None
    tracing.end_batch(None)


def test_given_tracing_off_then_a_batch_costs_well_under_a_microsecond():
    batch = [record(i, SAMPLED) for i in range(5000)]
    started = time.perf_counter()
    for _ in range(1000):
        trace = tracing.start_batch("p", batch)
        with tracing.handling(trace):
            pass
        tracing.end_batch(trace)
    per_batch = (time.perf_counter() - started) / 1000
    assert per_batch < 20e-6  # per *batch*: looking at each of the 5,000 records would cost ~100× more


def test_given_a_publish_then_its_headers_carry_the_publish_span(spans):
    with tracing.publishing("t.activity", {"herald.event.id": "e-1"}) as headers:
        pass
    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.PRODUCER
    context = tracing.sampled_context(headers)
    assert context is not None and context.span_id == span.context.span_id
    assert context.trace_id == span.context.trace_id


def test_given_a_batch_then_only_sampled_records_get_a_span_under_their_own_trace(spans):
    batch = [record(1, SAMPLED), record(2, UNSAMPLED), record(3), record(4, b"garbage")]
    trace = tracing.start_batch("persister", batch)
    with tracing.handling(trace):
        carried = tracing.headers_of(batch[0].message)
        assert tracing.headers_of(batch[1].message) is None
    tracing.end_batch(trace)
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert set(by_name) == {"persister process", "persister record"}
    batch_span, record_span = by_name["persister process"], by_name["persister record"]
    assert [link.context.span_id for link in batch_span.links] == [0xB7AD6B7169203331]
    assert batch_span.attributes["messaging.batch.message_count"] == 4
    assert record_span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C  # the publisher's trace
    assert record_span.parent.span_id == 0xB7AD6B7169203331
    assert record_span.links[0].context.span_id == batch_span.context.span_id
    assert record_span.attributes["messaging.kafka.offset"] == 1
    onward = tracing.sampled_context(carried)
    assert onward is not None and onward.span_id == record_span.context.span_id  # the next hop is its child


def test_given_a_call_for_the_batch_then_each_traced_record_gets_its_share(spans):
    batch = [record(1, SAMPLED), record(2)]
    trace = tracing.start_batch("push-sender", batch)
    with tracing.handling(trace):
        with tracing.calling("fcm send", [r.message for r in batch], {"herald.fcm.messages": 2}):
            pass
    tracing.end_batch(trace)
    sends = [s for s in spans.get_finished_spans() if s.name == "fcm send"]
    batch_span = next(s for s in spans.get_finished_spans() if s.name == "push-sender process")
    record_span = next(s for s in spans.get_finished_spans() if s.name == "push-sender record")
    assert {s.parent.span_id for s in sends} == {batch_span.context.span_id, record_span.context.span_id}
    assert all(s.kind is SpanKind.CLIENT for s in sends)


def test_given_a_failed_batch_then_its_spans_say_error_with_the_type_only(spans):
    trace = tracing.start_batch("p", [record(1, SAMPLED)])
    tracing.end_batch(trace, ValueError("patient Jane Doe"))
    for span in spans.get_finished_spans():
        assert span.status.description == "ValueError"
        assert not span.events  # no exception event: its message may quote data


class Forward:
    """Produces one output per record, carrying the record's trace context onward."""

    name = "forward"

    def handle(self, batch):
        return Outcome(
            outputs=[Output("t.next", None, b"x", tracing.headers_of(r.message)) for r in batch],
        )


@pytest.mark.parametrize("pipelined", [False, True])
def test_given_the_runtime_then_a_sampled_record_s_output_carries_its_record_span(spans, pipelined):
    batch = [
        FakeMessage(TOPIC, 0, 5, event_bytes(5), None, [("traceparent", SAMPLED)]),
        FakeMessage(TOPIC, 0, 6, event_bytes(6)),
    ]
    consumer = FakeConsumer([batch])
    producer = FakeProducer()
    from streams.checkpoint import Checkpoint

    checkpoint = Checkpoint(
        consumer=consumer, producer=producer, sink=ListSink(), dlq_topic_of=lambda t: DLQ, transactional=False
    )
    runtime = runtime_of(consumer, checkpoint, processor=Forward(), pipelined=pipelined)
    consumer.on_empty = runtime.stop
    runtime.run()
    finished = {s.name: s for s in spans.get_finished_spans()}
    assert set(finished) == {"forward process", "forward record"}
    headers = [h for (_, _, _, h) in producer.produced]
    assert headers[1] is None
    onward = tracing.sampled_context(headers[0])
    assert onward is not None and onward.span_id == finished["forward record"].context.span_id


def test_given_an_unsampled_publish_then_the_record_carries_no_trace_headers():
    provider = TracerProvider(sampler=ALWAYS_OFF)
    tracing.use(provider)
    try:
        with tracing.publishing("t.activity", {}) as headers:
            pass
        assert headers == []
    finally:
        tracing.disable()


@pytest.mark.parametrize(
    "value",
    [
        b"garbage",
        b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # a version that is invalid
        b"00-00000000000000000000000000000000-b7ad6b7169203331-01",  # an all-zero trace id
        b"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        b"00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01",  # not hex
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-101",
    ],
)
def test_given_a_malformed_traceparent_then_the_record_counts_as_untraced(value):
    assert tracing.sampled_context([("traceparent", value)]) is None


def test_given_a_traceparent_and_tracestate_then_both_are_read_as_the_propagator_would():
    from opentelemetry.trace import get_current_span

    headers = [("x", b"y"), ("traceparent", SAMPLED), ("tracestate", b"vendor=abc,other=1")]
    ours = tracing.sampled_context(headers)
    carrier = {k: v.decode() for k, v in headers}
    theirs = get_current_span(tracing._propagator.extract(carrier)).get_span_context()
    assert ours == theirs and ours is not None and ours.trace_state.get("vendor") == "abc"


class Enqueued:
    """The SDK's Publisher as far as ActivityPublisher uses it: what would be produced."""

    def __init__(self) -> None:
        self.records: list[tuple] = []

    def publish(self, topic, key, value, headers=None) -> bool:
        self.records.append((topic, key, value, headers))
        return True


def test_given_the_sdk_then_a_published_event_s_record_carries_its_publish_span_and_no_phi(spans):
    from streams.messages import ACTIVITY_EVENT
    from streams.producer import ActivityPublisher, activity_event
    from streams.serde import AvroSerde, SchemaStore

    enqueued = Enqueued()
    sdk = ActivityPublisher(enqueued, AvroSerde(ACTIVITY_EVENT, SchemaStore()), "t.activity")  # type: ignore[arg-type]
    event = activity_event(
        event_type="LAB_RESULT_RECEIVED",
        organization_id="org-1",
        title="Potassium for Jane Roe",
        description="K+ 6.1",
        patient_id="patient-77",
        actor_user_id="user-5",
    )
    sdk.publish(event)
    (span,) = spans.get_finished_spans()
    ((_, _, _, headers),) = enqueued.records
    context = tracing.sampled_context(headers)
    assert context is not None and context.span_id == span.context.span_id
    assert span.attributes["herald.event.id"] == str(event.event_id)
    assert span.attributes["herald.event.type"] == "LAB_RESULT_RECEIVED"
    values = " ".join(str(v) for v in span.attributes.values()) + span.name
    assert not [w for w in ("Jane", "Roe", "Potassium", "6.1", "patient-77", "user-5") if w in values]


def test_given_the_sdk_with_tracing_off_then_records_carry_no_headers():
    from streams.messages import ACTIVITY_EVENT
    from streams.producer import ActivityPublisher, activity_event
    from streams.serde import AvroSerde, SchemaStore

    enqueued = Enqueued()
    sdk = ActivityPublisher(enqueued, AvroSerde(ACTIVITY_EVENT, SchemaStore()), "t.activity")  # type: ignore[arg-type]
    sdk.publish(activity_event(event_type="LAB_RESULT_RECEIVED", organization_id="org-1", title="t"))
    assert enqueued.records[0][3] is None
