"""Part 4 of `make bench`: end-to-end latency at half the measured maximum (``bench/pipeline.py`` setup).

1. maximum, once per repetition: a burst of ``--burst`` events published as fast as the producer goes,
   timed from the first publish to the pipeline's last effect (the last row commit or push arrival) →
   the pipeline's events/s on this machine, now;
2. then, per repetition, the offered load: one fixed rate for all repetitions, half the median of
   those maxima (or ``--rate``), open loop (paced publishing, not waiting on the pipeline), for
   ``--seconds``; then everything drains and is read back:
   * row visible: from the event's scheduled publish time (its occurred_at; ``Load`` in bench/pipeline.py) to the
     commit that made its activity_events row visible (LISTEN/NOTIFY, see bench/pipeline.py);
   * push: from the scheduled publish time to the push's arrival at the FCM emulator (its admin API records
     ``received_at`` per message; the notification id leads back to the event).
Processors run with their default settings (batches of up to 20,000 records for the persister, 5,000 for the others,
or 50 ms, 100 ms for the fan-out; the push sender takes queued records at once, or the first to arrive, and fetches
at the first committed byte; exactly-once fan-out).

Usage: python bench/latency.py [--burst 5000] [--seconds 30] [--reps 1] [--rate R] [--batch-timeout S] [--push-senders N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.pipeline import Load, Pipeline, build_pipeline  # noqa: E402
from bench.stats import cell, offered_load, percentile  # noqa: E402
from cli.processes import wait_until  # noqa: E402
from processors.fanout.settings import FanoutSettings  # noqa: E402
from streams.settings import RuntimeSettings  # noqa: E402


def maximum(pipeline: Pipeline, burst: int) -> float:
    """Events/s of the whole pipeline over a burst of ``burst`` events: from the first publish to the
    last effect (the last row commit or push arrival), read back once everything has drained."""
    pipeline.clear_pushes()
    load = Load(pipeline, rate=0)
    load.run(burst)
    assert load.stop() == 0, "the broker did not acknowledge every event"
    wait_until(pipeline.caught_up, 900, interval=0.5, what="the pipeline to drain the burst")
    time.sleep(1.0)  # let the listener thread take the last notifications
    last = max([*pipeline.listener.visible.values(), *(m["received_at"] for m in pipeline.pushes())])
    return burst / (last - load.started)


def offered(pipeline: Pipeline, rate: float, seconds: float) -> dict:
    """Latencies of ``rate``/s events for ``seconds``, read back after the pipeline drained."""
    pipeline.clear_pushes()
    load = Load(pipeline, rate)
    load.run(int(rate * seconds))
    achieved = load.achieved()
    assert load.stop() == 0, "the broker did not acknowledge every event"
    wait_until(pipeline.caught_up, 600, interval=0.2, what="the pipeline to drain")
    time.sleep(1.0)  # let the listener thread take the last notifications
    rows, row_missing = row_latencies(pipeline, load.published)
    pushes, fanout, push_events = push_latencies(pipeline, load.published)
    return {
        "offered_per_s": rate,
        "achieved_per_s": achieved,
        "events": len(load.published),
        "notifying_events": len(load.notify),
        "events_pushed": push_events,
        "pushes": len(pushes),
        "rows_without_commit_time": row_missing,
        "row_ms": summary(rows),
        "fanout_write_ms": summary(fanout),
        "push_ms": summary(pushes),
    }


def row_latencies(pipeline: Pipeline, published: dict) -> tuple[list[float], int]:
    engine = create_engine(pipeline.settings.database_url)
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT event_id, (extract(epoch FROM received_at) * 1000000)::bigint "
                "FROM activity_events WHERE event_id = ANY(:ids)"
            ),
            {"ids": list(published)},
        ).all()
    engine.dispose()
    visible = pipeline.listener.visible
    out = [(visible[us] - published[eid]) * 1000 for eid, us in found if us in visible]
    return out, len(published) - len(out)


def push_latencies(pipeline: Pipeline, published: dict) -> tuple[list[float], list[float], int]:
    """Publish → push arrival per push; publish → the fan-out's write (user_notifications.created_at, the
    start of its Postgres transaction) per pushed notification; and how many events were pushed."""
    messages = pipeline.pushes()
    ids = list({m["message"]["data"]["notification_id"] for m in messages})
    engine = create_engine(pipeline.settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT notification_id::text, event_id, extract(epoch FROM created_at) FROM "
                "user_notifications WHERE notification_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": ids},
        ).all()
    engine.dispose()
    event_of = {n: e for n, e, _ in rows}
    fanout = [(float(at) - published[e]) * 1000 for _, e, at in rows if e in published]
    out, events = [], set()
    for m in messages:
        event_id = event_of.get(m["message"]["data"]["notification_id"])
        if event_id in published:
            out.append((m["received_at"] - published[event_id]) * 1000)
            events.add(event_id)
    return out, fanout, len(events)


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), **{f"p{q}": percentile(ms, q) for q in (50, 95, 99)}, "max": max(ms, default=float("nan"))}


def run(
    burst: int,
    seconds: float,
    reps: int,
    batch_timeout_s: float | None = None,
    rate: float | None = None,
    push_senders: int = 1,
) -> dict:
    """``batch_timeout_s`` overrides HERALD_BATCH_TIMEOUT_S of every processor (a diagnostic; defaults 0.05 s, fan-out 0.1 s);
    ``rate`` fixes the offered load (default: half the median of the repetitions' measured maxima, the
    maxima measured first: one burst's drain rate moved 887–1,166 and 1,053–1,295 events/s within a
    ``make bench``, and a repetition offered half of its own ran at anything from 443 to 648/s); ``push_senders``
    replicas of the push sender share its topic's partitions (one consumer group)."""
    env = {"HERALD_BATCH_TIMEOUT_S": str(batch_timeout_s)} if batch_timeout_s else {}
    pipeline = build_pipeline("latency", env, {"push-sender": push_senders})
    try:
        wait_until(pipeline.ready, 120, interval=0.5, what="the processors to start")
        Load(pipeline, rate=0).run(200)  # warm-up: every processor has its partitions and connections
        wait_until(pipeline.caught_up, 300, interval=0.2, what="the warm-up")
        tops = []
        for rep in range(reps):
            tops.append(maximum(pipeline, burst))
            print(f"[latency] burst {rep + 1}/{reps}: max {tops[-1]:,.0f} events/s", flush=True)
        load = offered_load(tops, rate)
        runs = []
        for rep in range(reps):
            runs.append({"max_per_s": tops[rep], **offered(pipeline, load, seconds)})
            r = runs[-1]
            print(
                f"[latency] rep {rep + 1}/{reps}: at {r['offered_per_s']:,.0f}/s: row p99 "
                f"{r['row_ms']['p99']:,.0f} ms, push p99 {r['push_ms']['p99']:,.0f} ms ({r['pushes']:,} pushes)",
                flush=True,
            )
        return {
            "burst": burst,
            "seconds": seconds,
            "batch_timeout_s": batch_timeout_s,
            "fixed_rate": rate,
            "push_senders": push_senders,
            "runs": runs,
            "logs": str(pipeline.logs),
        }
    finally:
        pipeline.stop()


def table(part: dict) -> list[str]:
    runs = part["runs"]
    setting = (
        f"HERALD_BATCH_TIMEOUT_S={part['batch_timeout_s']}"
        if part.get("batch_timeout_s")
        else (
            f"default settings (batch timeout {RuntimeSettings.model_fields['batch_timeout_s'].default * 1000:.0f} ms, "
            f"fan-out {FanoutSettings.model_fields['batch_timeout_s'].default * 1000:.0f} ms; the push sender takes queued records at once, or the first to arrive)"
        )
    )
    lines = [
        f"Processors with {setting}. Maximum (burst of {part['burst']:,} events through persister + fan-out + push sender): "
        f"{cell([r['max_per_s'] for r in runs])} events/s; offered load = "
        f"{'fixed (in make bench: the main latency run' + chr(39) + 's)' if part.get('fixed_rate') else 'half the median maximum, the same for every run'}: "
        f"{cell([r['offered_per_s'] for r in runs])} events/s for {part['seconds']:.0f} s "
        f"({cell([r['pushes'] / part['seconds'] for r in runs])} pushes/s).",
        "",
        "| publish → | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | samples per run | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, key, target in (
        ("row visible in activity_events", "row_ms", "p99 < 500 ms"),
        ("fan-out writes the bell row (stage of the push path)", "fanout_write_ms", ""),
        ("push at the FCM emulator", "push_ms", "p99 < 500 ms"),
    ):
        if any(key not in r for r in runs):
            continue
        vals = lambda q, key=key: [r[key][q] for r in runs]  # noqa: E731
        lines.append(
            f"| {name} | {cell(vals('p50'))} | {cell(vals('p95'))} | {cell(vals('p99'))} | {cell(vals('max'))} | "
            f"{cell(vals('n'))} | {target} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--batch-timeout", type=float, default=None, help="HERALD_BATCH_TIMEOUT_S of every processor")
    parser.add_argument("--rate", type=float, default=None, help="a fixed offered load instead of half the maximum")
    parser.add_argument("--push-senders", type=int, default=1, help="push sender replicas (one consumer group)")
    args = parser.parse_args()
    print("\n".join(table(run(args.burst, args.seconds, args.reps, args.batch_timeout, args.rate, args.push_senders))))


if __name__ == "__main__":
    main()
