"""Persister throughput beside the raw ceiling, in one run on the local stack (`make bench-persist`).

(a) ceiling: a bare confluent-kafka consume loop with the serde's decode over the pre-loaded topic, and a
    bare idempotent write of the same rows with the persister's default strategy (key lookup + COPY); the persister does both serially on
    one thread, so its ceiling is the serial composition 1 / (1/consume + 1/copy);
(b) the persister end to end (`python -m processors.persister`) on the same topic, once per write
    strategy (copy, staging, executemany), from its first durable row until its lag is 0, plus its peak RSS.
(c) with ``--tracing always|ratio``: the persister alone (copy), with tracing on (streams/tracing.py) and its spans
    exported over OTLP/HTTP to a receiver in this process that drops them; the events published with a sampler
    of the same rate (always on, or 1 in 100), as the SDK in an EMR service would. ``--tracing off``: the same run
    without the OTEL_* variables, to compare on the same machine state.
Usage: python bench/persist.py [--events 200000] [--tracing off|always|ratio]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Consumer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import (  # noqa: E402
    bench_settings,
    cpu_seconds,
    env_of,
    peak_rss_mb,
    preload_events,
    save,
    scalar,
    scratch_database,
)
from cli.processes import start_processor, stop_processor, wait_until  # noqa: E402
from sinks.postgres.activity import COLUMNS  # noqa: E402
from sinks.postgres.activity_rows import event_row  # noqa: E402
from sinks.postgres.bulk import copy_new_rows  # noqa: E402
from sinks.postgres.engine import raw_connection  # noqa: E402
from streams.admin import group_lag  # noqa: E402
from streams.messages import ACTIVITY_EVENT  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402
from streams.topics import ACTIVITY  # noqa: E402


def bare_consume_decode(settings, count: int) -> float:
    """Events/s of consume + decode with Herald's serde (cavro for the reader's own schema), nothing else."""
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.group_prefix}bare",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([settings.topic(ACTIVITY)])
    seen, started = 0, None
    while seen < count:
        batch = consumer.consume(5000, 1.0)
        started = started or (time.perf_counter() if batch else None)
        for msg in batch:
            serde.decode(msg.value())
        seen += len(batch)
    elapsed = time.perf_counter() - started
    consumer.close()
    return count / elapsed


def bare_copy(database_url: str, events: list, batch: int = 5000) -> float:
    """Events/s of the persister's idempotent write (key lookup + COPY) of its rows, in batches."""
    rows = [event_row(e) for e in events]
    engine = create_engine(database_url)
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        with engine.begin() as conn, raw_connection(conn).cursor() as cur:
            copy_new_rows(cur, "activity_events", COLUMNS, rows[i : i + batch], key="event_id", conflict="DO NOTHING")
    elapsed = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE activity_events"))
    engine.dispose()
    return len(rows) / elapsed


def persister_run(settings, count: int, strategy: str, extra_env: dict[str, str] | None = None) -> tuple[float, float]:
    """Events/s of the persister from its first durable row to lag 0, and its peak RSS in MB; its CPU
    seconds over the same span go in ``CPU[strategy]`` (less sensitive than events/s to a busy machine)."""
    engine = create_engine(settings.database_url)
    rows = lambda: scalar(engine, "SELECT count(*) FROM activity_events")  # noqa: E731
    group = f"persist-{strategy}"
    env = env_of(
        settings,
        HERALD_PERSIST_STRATEGY=strategy,
        HERALD_GROUP_PREFIX=f"{settings.group_prefix}{group}-",
        **(extra_env or {}),
    )
    proc = start_processor("processors.persister", env=env)
    wait_until(lambda: rows() > 0, 120, interval=0.01, what="the first rows")
    first, started, cpu = rows(), time.perf_counter(), cpu_seconds(proc.pid)
    wait_until(
        lambda: (
            sum(
                p.messages
                for p in group_lag(settings, f"{settings.group_prefix}{group}-persister", settings.topic(ACTIVITY))
            )
            == 0
        ),
        600,
        interval=0.05,
        what="the persister to catch up",
    )
    elapsed = time.perf_counter() - started
    CPU[strategy] = (cpu_seconds(proc.pid) - cpu) / (count - first) * 1e6
    rss = peak_rss_mb(proc.pid)
    stop_processor(proc)
    assert rows() == count, f"{rows()} rows, expected {count}"
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE activity_events"))
    engine.dispose()
    return (count - first) / elapsed, rss


CPU: dict[str, float] = {}  # CPU seconds per million events, by the last persister_run of each strategy
RATIO = 0.01  # --tracing ratio: 1 event in 100 traced


class _DropSpans(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that reads each export and answers 200: the exporter's whole cost, no backend's."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def tracing_env(mode: str) -> dict[str, str]:
    """The persister's OTEL_* variables for ``mode``; turns the SDK's tracing on in this process (the
    published events carry sampled or unsampled trace contexts, as an EMR service's would)."""
    if mode == "off":
        return {}
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased

    from streams import tracing

    tracing.use(TracerProvider(sampler=ParentBased(ALWAYS_ON if mode == "always" else TraceIdRatioBased(RATIO))))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DropSpans)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sampler = (
        {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}
        if mode == "always"
        else {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(RATIO)}
    )
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        **sampler,
    }


def tracing_run(args) -> None:
    """(c): the persister (copy) with tracing as ``args.tracing`` says."""
    database_url = scratch_database("herald_bench_persist_tracing")
    settings = bench_settings(database_url)
    env = tracing_env(args.tracing)
    print(f"pre-loading {args.events:,} events (tracing {args.tracing}) …", flush=True)
    preload_events(settings, args.events)
    rate, rss = persister_run(settings, args.events, "copy", env)
    cpu = CPU["copy"]
    print(
        f"persister, tracing {args.tracing:<6} {rate:>10,.0f} events/s; {cpu:.1f} CPU-s per million events; "
        f"peak RSS {rss:.0f} MB"
    )
    figures = {"events": args.events, "per_s": rate, "cpu_s_per_million": cpu, "peak_rss_mb": rss}
    print(f"saved {save(f'persist-tracing-{args.tracing}', figures)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--tracing", choices=("off", "always", "ratio"), help="only the persister, tracing as given")
    args = parser.parse_args()
    if args.tracing:
        tracing_run(args)
        return
    database_url = scratch_database("herald_bench_persist")
    settings = bench_settings(database_url)
    print(f"pre-loading {args.events:,} events …", flush=True)
    events = preload_events(settings, args.events)
    consume = bare_consume_decode(settings, args.events)
    copy = bare_copy(database_url, events)
    ceiling = 1 / (1 / consume + 1 / copy)
    runs = {s: persister_run(settings, args.events, s) for s in ("copy", "staging", "executemany")}
    figures = {
        "events": args.events,
        "bare_consume_decode_per_s": consume,
        "bare_copy_per_s": copy,
        "serial_ceiling_per_s": ceiling,
        **{f"persister_{s}_per_s": r[0] for s, r in runs.items()},
        **{f"persister_{s}_peak_rss_mb": r[1] for s, r in runs.items()},
    }
    print(f"bare consume+decode   {consume:>10,.0f} events/s")
    print(f"bare COPY             {copy:>10,.0f} events/s")
    print(f"serial ceiling        {ceiling:>10,.0f} events/s")
    for strategy, (rate, rss) in runs.items():
        print(
            f"persister ({strategy:<11}) {rate:>10,.0f} events/s  = {rate / ceiling:.2f} of the ceiling "
            f"({rate / min(consume, copy):.2f} of the slower stage); peak RSS {rss:.0f} MB"
        )
    print(f"saved {save('persist', figures)}")


if __name__ == "__main__":
    main()
