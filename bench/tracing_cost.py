"""CPU per record of the runtime's tracing (streams/tracing.py), in-process, without Kafka or Postgres.

A batch of 5,000 records, each with a ``traceparent`` (sampled at the given fraction), goes through what the
runtime does per batch (``start_batch``, ``handling``, ``end_batch``) with tracing off, on with 1 % of the
records sampled, and on with all of them; the spans go through the SDK's BatchSpanProcessor to an exporter
that drops them (the OTLP encoding is not counted here; bench/persist.py --tracing counts everything).
CPU time of the whole process (the processor's export thread included), so a busy machine matters less
than for events/s. Usage: python bench/tracing_cost.py [--records 5000] [--batches 20]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult  # noqa: E402
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased  # noqa: E402

from streams import tracing  # noqa: E402
from streams.records import Record  # noqa: E402
from streams.testing import FakeMessage  # noqa: E402


class _Drop(SpanExporter):
    def export(self, spans) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def records(count: int, sampled: float, rng: random.Random) -> list[Record]:
    out = []
    for offset in range(count):
        flags = "01" if rng.random() < sampled else "00"
        parent = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-{flags}".encode()
        out.append(Record(object(), FakeMessage("t.activity", 0, offset, b"v", None, [("traceparent", parent)])))
    return out


def cpu_per_record(batch: list[Record], batches: int, sampler: Sampler | None) -> float:
    """CPU µs per record; ``sampler`` None: tracing off."""
    provider = None
    if sampler is None:
        tracing.disable()
    else:
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(BatchSpanProcessor(_Drop(), max_queue_size=len(batch) * batches + 1))
        tracing.use(provider)
    started = time.process_time()
    for _ in range(batches):
        trace = tracing.start_batch("persister", batch)
        with tracing.handling(trace):
            pass
        tracing.end_batch(trace)
    if provider is not None:
        provider.force_flush()
    elapsed = time.process_time() - started
    if provider is not None:
        provider.shutdown()
    tracing.disable()
    return elapsed / (len(batch) * batches) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    one_in_100 = records(args.records, 0.01, rng)
    every = records(args.records, 1.0, rng)
    runs = [
        ("off", one_in_100, args.batches, None),
        ("on, 1 % of records sampled", one_in_100, args.batches, ParentBased(TraceIdRatioBased(0.01))),
        ("on, every record sampled", every, max(args.batches // 5, 1), ParentBased(ALWAYS_ON)),
    ]
    for label, batch, batches, sampler in runs:
        print(f"{label:<28} {cpu_per_record(batch, batches, sampler):8.2f} µs CPU per record")


if __name__ == "__main__":
    main()
