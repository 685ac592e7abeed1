"""`make bench`: Herald's headline benchmarks on the local stack, repeated, written to bench/results/.

Parts (each also runnable alone, see its module):
  2. persist job: Herald's persister vs the same job in Quix Streams vs the raw ceiling  (bench/persist_peer.py)
  3. fan-out with exactly-once on vs off                                              (bench/fanout.py)
  4. end-to-end latency at half the measured maximum                                    (bench/latency.py)
  5. SIGKILL of each processor under load: losses, duplicates, recovery time           (bench/crash.py)
Each part sets up once and measures ``--reps`` times (default 3); the report gives medians with min–max,
and ratios are taken within a repetition (both sides measured minutes apart under the same load),
then their median. Writes bench/results/latest.json and bench/results/latest.md (earlier results live in git).

Usage: python bench/run_all.py [--reps 3] [--quick] [--parts 2,3,4,5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import crash, latency, persist_peer  # noqa: E402
from bench.common import RESULTS, bench_settings, machine, scratch_database  # noqa: E402
from bench.stats import cell, ratio, spread  # noqa: E402

DIAGNOSTIC_BATCH_TIMEOUT_S = 0.5  # the runtime's default before bd4305a (now 0.05)
SIZES = {  # full run (about 30 minutes here) and --quick (a few minutes, one repetition)
    "full": {"persist_events": 200_000, "fanout_events": 20_000, "burst": 5000, "seconds": 30, "spacing": 10},
    "quick": {"persist_events": 20_000, "fanout_events": 10_000, "burst": 1000, "seconds": 10, "spacing": 5},
}


def fanout_part(events: int, reps: int) -> dict:
    """bench/fanout.py's care-team fan-out, exactly-once on and off (alternating which goes first)."""
    from bench import fanout
    from processors.demo.traffic import build_world, demo_events

    settings = bench_settings(scratch_database("herald_bench_fanout"))
    world = build_world(random.Random(3), fanout.NOW, organizations=3, users_per_org=200, patients_per_org=2000)
    fanout.load_directory(settings, world.directory(fanout.NOW))
    stream = demo_events(world, random.Random(4), events * 3, fanout.NOW)
    loaded = [e for e in stream if e.event_type in fanout.CARE_TEAM_TYPES][:events]
    print(f"[fanout] pre-loading {len(loaded):,} care-team events …", flush=True)
    fanout.publish(settings, loaded)
    runs = []
    for rep in range(reps):
        fresh = settings.model_copy(update={"group_prefix": f"{settings.group_prefix}r{rep}-"})
        rates = {
            eos: fanout.care_team_rate(fresh, len(loaded), eos)
            for eos in ((True, False) if rep % 2 == 0 else (False, True))
        }
        runs.append({"eos_on_per_s": rates[True], "eos_off_per_s": rates[False]})
        print(
            f"[fanout] rep {rep + 1}/{reps}: exactly-once on {rates[True]:,.0f}/s, off {rates[False]:,.0f}/s",
            flush=True,
        )
    return {"events": len(loaded), "runs": runs}


def fanout_table(part: dict) -> list[str]:
    on, off = [r["eos_on_per_s"] for r in part["runs"]], [r["eos_off_per_s"] for r in part["runs"]]
    return [
        f"{part['events']:,} pre-loaded care-team events (2–4 recipients each), one fan-out process.",
        "",
        "| fan-out | events/s |",
        "|---|---|",
        f"| exactly-once on (Kafka transactions) | {cell(on)} |",
        f"| exactly-once off | {cell(off)} |",
        f"| on / off (per run, then median) | {cell(ratio(on, off), '.2f')} |",
        f"| cost of transactions: 1 − on/off | {cell([None if x is None else (1 - x) * 100 for x in ratio(on, off)], '.0f', ' %')} |",
    ]


def environment() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {**machine(), "cpu_model": cpu, "kernel": platform.release(), "load_average_at_start": os.getloadavg()}


def run_part(name: str, fn, *args) -> dict:
    """Runs one part; a failure is recorded in the results, and the other parts still run."""
    started = time.monotonic()
    try:
        result = fn(*args)
    except Exception as exc:  # a broken part must not cost the others' figures
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["wall_s"] = time.monotonic() - started
    print(f"[{name}] done in {result['wall_s']:.0f} s", flush=True)
    return result


def markdown(results: dict) -> str:
    env, parts = results["machine"], results["parts"]
    lines = [
        f"# Herald benchmarks, {results['date']}",
        "",
        f"`{results['command']}` on the local stack; {results['reps']} repetitions per part, medians with min–max "
        "in brackets; ratios are taken within a repetition, then their median. The machine is shared: "
        f"load average {', '.join(f'{x:.1f}' for x in env['load_average_at_start'])} at the start, "
        f"{', '.join(f'{x:.1f}' for x in results['load_average_at_end'])} at the end; total {results['wall_s'] / 60:.0f} min.",
        "",
        "| machine | versions |",
        "|---|---|",
        f"| {env['cpu_model']}, {env['cpus']} cores, Linux {env['kernel']} | Python {env['python']}, Kafka {env['kafka']}, "
        f"librdkafka {env['librdkafka']} (confluent-kafka {env['confluent_kafka']}), fastavro {env['fastavro']}, "
        f"psycopg {env['psycopg']} |",
    ]
    quix = parts.get("persist", {}).get("quix")
    if quix:
        lines.append(
            f"| Quix Streams peer (bench/.venv-quix) | quixstreams {quix['quixstreams']}, librdkafka {quix['librdkafka']}, "
            f"psycopg2 {quix['psycopg2']}, fastavro {quix['fastavro']} |"
        )
    sections = [
        ("persist", "2. Persist job: Herald vs Quix Streams vs the raw ceiling", persist_peer.table),
        ("fanout", "3. Fan-out: exactly-once on vs off", fanout_table),
        ("latency", "4. End-to-end latency at half the measured maximum", latency.table),
        (
            "latency_old_batch_timeout",
            "4b. Diagnostic: the same load with a ten-times-longer batch timeout, "
            f"HERALD_BATCH_TIMEOUT_S={DIAGNOSTIC_BATCH_TIMEOUT_S}",
            latency.table,
        ),
        ("crash", "5. Crash under load (SIGKILL, restart)", crash.table),
    ]
    for key, title, render in sections:
        if key not in parts:
            continue
        lines += ["", f"## {title}", ""]
        lines += [f"**Not measured**: {parts[key]['error']}"] if "error" in parts[key] else render(parts[key])
    lines += ["", "## How to read it", "", *NOTES]
    return "\n".join(lines) + "\n"


NOTES = [
    "- **Throughput window**: each persist job is timed from its first durable row until every row is in the table "
    "and its committed offsets reach the topic's end; CPU seconds (user + system, all threads, from /proc) over the same "
    "window; peak RSS is VmHWM just before the process is stopped. Postgres's own CPU is not counted for any job.",
    "- **Ceiling**: bare consume + decode and bare COPY are measured one after the other in the benchmark process. A job "
    "that does both serially on one thread is bounded by their serial composition; librdkafka fetches on its own threads, "
    "so a real consumer overlaps part of the fetching with the writing and can beat the serial figure. The slower bare stage "
    "is the bound for a perfectly pipelined job.",
    "- **Quix Streams peer** (`bench/peers/quix_persister.py`): `PostgreSQLSink(on_conflict_do_nothing=True)` — the sink can "
    "do `ON CONFLICT DO NOTHING`, so it writes to the same activity_events table and indexes; a checkpoint (sink flush + "
    "offset commit) every 20,000 records, the Herald persister's batch size; `schema_auto_update=False`, `include_metadata=False`. It does "
    "not validate events (Herald does, and dead-letters failures). A one-method patch fixes the sink's column list "
    "(quixstreams 3.28 takes it from the first row of a batch after dropping None values, losing e.g. patient_id of every "
    "row in a batch that starts with an announcement). The checksum row shows both jobs wrote identical rows.",
    "- **Latency**: publish time = the event's scheduled publish time (stamped into occurred_at); the load generator "
    "builds and encodes events ahead and publishes each as ready bytes no earlier than that time, so a late publish "
    "counts against the pipeline. Row "
    "visibility is the commit time of the inserting transaction (a statement trigger's pg_notify, delivered at commit). "
    "Push arrival is the emulator's `received_at`. Every demo user pushes from NORMAL up with quiet hours off, so most "
    "notifying events become 2–4 pushes. The processors run with their default settings.",
    "- **Crash**: at the latency part's offered load, the persister and the push sender are SIGKILLed together, then the "
    "fan-out a few seconds after they recovered (the push sender's input flows only while the fan-out runs); each is restarted at once. Recovery is measured "
    "until the restarted group has committed past everything on its input half a second after the kill. Each processor "
    "has an instance id (`HERALD_INSTANCE_ID=<name>-0`, as a pod name would be), so it is a static group member and its "
    "restart takes its partitions back at once (without one, the broker hands a dead member's partitions over only when "
    "its session, 45 s by default, expires). A push "
    "sender killed between sending a batch and committing it re-sends the batches in flight on restart, at most two "
    "(docs/push.md): those are "
    "the duplicate pushes; they carry the notification id as collapse key, so the device shows one.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=None, help="repetitions per part (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition: a functional check")
    parser.add_argument("--parts", default="2,3,4,5")
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    reps = args.reps or (1 if args.quick else 3)
    wanted = set(args.parts.split(","))
    started = time.monotonic()
    results = {
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d}",
        "at": time.time(),
        "reps": reps,
        "sizes": sizes,
        "command": "make bench"
        if not args.quick and wanted == {"2", "3", "4", "5"}
        else " ".join(["python", *sys.argv]),
        "machine": environment(),
        "parts": {},
    }
    parts = results["parts"]
    if "2" in wanted:
        parts["persist"] = run_part("persist", persist_peer.run, sizes["persist_events"], reps)
    if "3" in wanted:
        parts["fanout"] = run_part("fanout", fanout_part, sizes["fanout_events"], reps)
    if "4" in wanted:
        parts["latency"] = run_part("latency", latency.run, sizes["burst"], sizes["seconds"], reps)
    offered = spread([r["offered_per_s"] for r in parts.get("latency", {}).get("runs", [])])["median"]
    rate = 100.0 if math.isnan(offered) else offered  # no latency figures: a modest default
    if "4" in wanted:  # the same load with a 0.5 s batch timeout: how much of the latency the wait makes
        parts["latency_old_batch_timeout"] = run_part(
            "latency, 0.5 s batch timeout",
            latency.run,
            sizes["burst"],
            sizes["seconds"],
            reps,
            DIAGNOSTIC_BATCH_TIMEOUT_S,
            rate,
        )
    if "5" in wanted:
        parts["crash"] = run_part("crash", crash.run, rate, sizes["spacing"], reps)
    results["wall_s"] = time.monotonic() - started
    results["load_average_at_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / "latest"  # one current result; git keeps the earlier ones
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    stem.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    print(f"wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
