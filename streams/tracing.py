"""OpenTelemetry tracing across the hops of a record, its context carried in the record's headers.

A record's headers may carry a W3C trace context (``traceparent``, ``tracestate``): the producer SDK
puts the publish span's there, and a processor puts the context of the record it handled on the
records that record leads to (``headers_of``). The runtime traces batches, not records: one CONSUMER
span per batch, linked to the contexts of the batch's *sampled* records, and under each sampled
record's context one span for that record (``<processor> record``), so one event's trace holds every
hop it took. An unsampled record costs a look at its headers, nothing more; no span is built for it.

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``) and ``OTEL_SDK_DISABLED``
is not ``true``, or the host process (an EMR service using the SDK) installed an SDK tracer provider
of its own. Off, every function here returns at its first line, on one global's value (``ACTIVE``):
no span objects, no header parsing, no imports of the SDK. docs/decisions/0215-tracing-manual-spans.md
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    TraceState,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from streams.records import Message, Record

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
Headers = list[tuple[str, bytes]]

ACTIVE = False  # read on the hot paths: off, nothing else here runs
_tracer: Tracer | None = None
_propagator = TraceContextTextMapPropagator()
_NOTHING: contextlib.nullcontext[None] = contextlib.nullcontext()


def configure(service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Turns tracing on when the environment asks for it (module doc); True when on. Idempotent: the
    first call builds the provider (service name ``OTEL_SERVICE_NAME``, else ``service_name``; sampler
    ``OTEL_TRACES_SAMPLER``/``_ARG``, parent-based always-on by default; the exporters' own
    ``OTEL_EXPORTER_OTLP_*`` variables), later ones keep it."""
    if ACTIVE:
        return True
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    current = trace.get_tracer_provider()
    if _is_sdk_provider(current):  # the host process set tracing up: publish into its traces
        use(current)
        return True
    exporters = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    exporters = [n for n in exporters if n and n != "none"]
    if not exporters:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: environ.get("OTEL_SERVICE_NAME") or service_name})
    )
    for name in exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    use(provider)
    return True


def _exporter(name: str) -> Any:
    if name in ("otlp", "otlp_proto_http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: Herald exports traces with 'otlp' (http/protobuf) or 'console'")


def _is_sdk_provider(provider: object) -> bool:
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def use(provider: trace.TracerProvider) -> None:
    """Traces into ``provider`` from now on (``configure``; tests pass one with an in-memory exporter)."""
    global ACTIVE, _tracer
    _tracer = provider.get_tracer("herald")
    ACTIVE = True


def disable() -> None:
    """Back to off (tests)."""
    global ACTIVE, _tracer
    ACTIVE, _tracer = False, None


def _active_tracer() -> Tracer:
    assert _tracer is not None, "tracing is active only once use() set a tracer"
    return _tracer


@contextlib.contextmanager
def publishing(topic: str, attributes: Mapping[str, str]) -> Iterator[Headers]:
    """A PRODUCER span around enqueuing one record, child of the caller's current span if any; yields
    the headers that carry its context, none when it is not sampled: downstream only sampled contexts
    make spans, and at a 1 % ratio 99 records in 100 then carry no header bytes for the consumers to
    fetch and scan. ``attributes``: ids and types only, they leave the process."""
    with _active_tracer().start_as_current_span(
        f"{topic} publish",
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            **attributes,
        },
        record_exception=False,  # an exception's message may quote data: never exported
        set_status_on_exception=False,
    ) as span:
        context = span.get_span_context()
        yield _inject(context) if context.trace_flags.sampled else []


class BatchTrace:
    """One batch's CONSUMER span, and a span per sampled record under that record's own context."""

    __slots__ = ("span", "records")

    def __init__(self, span: Span, records: dict[int, Span]) -> None:
        self.span = span
        self.records = records  # id(message) -> the record's span


_batch: ContextVar[BatchTrace | None] = ContextVar("herald_batch_trace", default=None)


def start_batch(processor: str, batch: Sequence[Record]) -> BatchTrace | None:
    """The batch's spans (None when off or empty). Only records whose ``traceparent`` says *sampled*
    get a span and a link: at 30,000 records/s a span per record would cost more than the work."""
    if not ACTIVE or not batch:
        return None
    tracer = _active_tracer()
    sampled = [(r.message, c) for r in batch if (c := sampled_context(r.message.headers())) is not None]
    first = batch[0].message
    span = tracer.start_span(
        f"{processor} process",
        kind=SpanKind.CONSUMER,
        links=[Link(c) for _, c in sampled],
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": first.topic(),
            "messaging.batch.message_count": len(batch),
            "herald.processor": processor,
            "herald.batch.sampled_records": len(sampled),
        },
    )
    back = [Link(span.get_span_context())]
    records = {
        id(message): tracer.start_span(
            f"{processor} record",
            context=trace.set_span_in_context(NonRecordingSpan(context)),
            kind=SpanKind.CONSUMER,
            links=back,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": message.topic(),
                "messaging.destination.partition.id": str(message.partition()),
                "messaging.kafka.offset": message.offset(),
                "herald.processor": processor,
            },
        )
        for message, context in sampled
    }
    return BatchTrace(span, records)


def handling(batch: BatchTrace | None) -> contextlib.AbstractContextManager[Any]:
    """While a processor handles the batch: its span is the current one (spans started meanwhile are
    its children) and ``headers_of`` / ``calling`` find the records' spans."""
    if batch is None:
        return _NOTHING
    return _handling(batch)


@contextlib.contextmanager
def _handling(batch: BatchTrace) -> Iterator[None]:
    token = _batch.set(batch)
    try:
        with trace.use_span(batch.span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield
    finally:
        _batch.reset(token)


def end_batch(batch: BatchTrace | None, error: BaseException | None = None) -> None:
    """Ends the batch's spans once it is durable (or failed: ``error``, recorded on the batch span)."""
    if batch is None:
        return
    for span in batch.records.values():
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
    if error is not None:
        batch.span.set_status(Status(StatusCode.ERROR, type(error).__name__))  # the type only: a message may quote data
    batch.span.end()


def headers_of(message: Message) -> Headers | None:
    """The headers a record produced on behalf of ``message`` carries: the context of ``message``'s
    span in the batch being handled, so the next hop's spans are its children. None when off or when
    ``message`` is not sampled."""
    if not ACTIVE:
        return None
    batch = _batch.get()
    span = batch.records.get(id(message)) if batch is not None else None
    return _inject(span.get_span_context()) if span is not None else None


@contextlib.contextmanager
def calling(
    name: str, messages: Iterable[Message], attributes: Mapping[str, int | str] | None = None
) -> Iterator[None]:
    """A CLIENT span around one call made for the batch being handled (child of the batch span), and
    for each sampled record among ``messages`` a span of the same name under that record's span, so
    the call shows in each traced event's own trace. Off: nothing (callers skip this when not ACTIVE)."""
    tracer = _active_tracer()
    batch = _batch.get()
    parents = (
        []
        if batch is None
        else list({id(m): batch.records[id(m)] for m in messages if id(m) in batch.records}.values())
    )
    attrs = dict(attributes or {})
    with tracer.start_as_current_span(
        name, kind=SpanKind.CLIENT, attributes=attrs, record_exception=False, set_status_on_exception=False
    ) as call:
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            call.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            link = [Link(call.get_span_context())]
            start = getattr(call, "start_time", None)
            for parent in parents:
                span = tracer.start_span(
                    name,
                    context=trace.set_span_in_context(parent),
                    kind=SpanKind.CLIENT,
                    links=link,
                    attributes=attrs,
                    start_time=start,
                )
                if error is not None:
                    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.end()


def sampled_context(headers: Sequence[tuple[str, bytes]] | None) -> SpanContext | None:
    """The remote span context of a record's headers when its ``traceparent`` is valid and sampled.

    Parsed here rather than by the propagator's extract (~19 µs a record, its regular expressions):
    an unsampled record costs a header scan, a sampled one ~2 µs; malformed values count as absent."""
    if not headers:
        return None
    parent = state = None
    for key, value in headers:
        if key == TRACEPARENT:
            parent = value
        elif key == TRACESTATE:
            state = value
    if parent is None or len(parent) != 55 or parent[-1] not in _SAMPLED_LAST:
        return None
    try:
        text = parent.decode("ascii") if isinstance(parent, bytes) else str(parent)
        version, trace_id, span_id, flags = text.split("-")
        if len(version) != 2 or version == "ff" or len(trace_id) != 32 or len(span_id) != 16 or len(flags) != 2:
            return None
        context = SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int(span_id, 16),
            is_remote=True,
            trace_flags=TraceFlags(int(flags, 16)),
            trace_state=TraceState.from_header([state.decode("ascii")]) if state else None,
        )
    except (ValueError, UnicodeDecodeError):
        return None
    return context if context.is_valid else None


# The last character of a sampled traceparent's flags (its lowest bit set), as bytes' ints and as str.
_SAMPLED_LAST = frozenset(b"13579bdfBDF") | frozenset("13579bdfBDF")


def _inject(context: SpanContext) -> Headers:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, trace.set_span_in_context(NonRecordingSpan(context)))
    return [(key, value.encode("ascii")) for key, value in carrier.items()]
