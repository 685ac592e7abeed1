"""Part 2 of `make bench`: the persist job three ways over one pre-loaded topic, in one run.

* ceiling: a bare consume + decode loop (Herald's serde) and a bare COPY (staging + INSERT … ON CONFLICT) of
  the same rows (``bench/persist.py``'s functions), and their serial composition 1 / (1/a + 1/b), which
  is what one thread doing both can reach;
* Herald's persister (``python -m processors.persister``, default settings: COPY strategy, batches of
  ≤ HERALD_BATCH_MAX_RECORDS (20,000) records, one transaction + one offset commit per batch);
* the same job written with Quix Streams (``bench/peers/quix_persister.py`` in ``bench/.venv-quix``,
  its ``PostgreSQLSink``, at-least-once, a checkpoint every BATCH records, Herald's persister batch, same table and indexes).

Each job runs as its own process with a fresh consumer group; it is timed from its first durable row
until every row is in the table and its committed offsets reach the end of the topic, and its CPU
seconds are counted over the same window. Herald and Quix alternate which goes first from one
repetition to the next. After each job the table's content is checksummed (all columns but
received_at), so both are shown to have written the same rows.

Usage: python bench/persist_peer.py [--events 100000] [--reps 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import bench_settings, cpu_seconds, env_of, peak_rss_mb, preload_events, scalar, scratch_database  # noqa: E402
from bench.persist import bare_consume_decode, bare_copy  # noqa: E402
from bench.stats import cell, ratio  # noqa: E402
from cli.processes import start_processor, stop_processor, wait_until  # noqa: E402
from processors.persister.settings import PersisterSettings  # noqa: E402
from sinks.postgres.activity import COLUMNS  # noqa: E402
from streams.admin import group_lag  # noqa: E402
from streams.topics import ACTIVITY  # noqa: E402

BENCH = Path(__file__).resolve().parent
QUIX_VENV = BENCH / ".venv-quix"
QUIX_PYTHON = QUIX_VENV / "bin" / "python"
QUIX_APP = BENCH / "peers" / "quix_persister.py"
QUIX_REQUIREMENTS = ["quixstreams==3.28.1", "psycopg2-binary>=2.9", "fastavro==1.13.1"]
BATCH = PersisterSettings().batch_max_records  # Herald's persister batch, and the Quix app's commit_every


def ensure_quix_venv() -> str:
    """Creates bench/.venv-quix with Quix Streams when it is missing; returns quixstreams' version."""
    probe = [str(QUIX_PYTHON), "-c", "import quixstreams, psycopg2, fastavro; print(quixstreams.__version__)"]
    if QUIX_PYTHON.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return subprocess.run(probe, capture_output=True, text=True).stdout.strip()
    print("creating bench/.venv-quix (quixstreams, psycopg2-binary, fastavro) …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(QUIX_VENV)], check=True)
    subprocess.run([str(QUIX_PYTHON), "-m", "pip", "install", "-q", *QUIX_REQUIREMENTS], check=True)
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


def quix_versions() -> dict:
    out = subprocess.run(
        [
            str(QUIX_PYTHON),
            "-c",
            "import quixstreams, confluent_kafka, psycopg2, fastavro; "
            "print(quixstreams.__version__, confluent_kafka.libversion()[0], psycopg2.__version__.split()[0], "
            "fastavro.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # A version the peer could not print is left out of the report rather than failing the benchmark.
    return dict(zip(("quixstreams", "librdkafka", "psycopg2", "fastavro"), out, strict=False))


def start_herald(settings, group_prefix: str, log: Path) -> subprocess.Popen:
    return start_processor(
        "processors.persister", env=env_of(settings, HERALD_GROUP_PREFIX=group_prefix), log_path=str(log)
    )


def start_quix(settings, group: str, log: Path) -> subprocess.Popen:
    dsn = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    out = open(log, "ab")
    return subprocess.Popen(
        [
            str(QUIX_PYTHON),
            str(QUIX_APP),
            "--bootstrap",
            settings.kafka_bootstrap,
            "--topic",
            settings.topic(ACTIVITY),
            "--group",
            group,
            "--dsn",
            dsn,
            "--commit-every",
            str(BATCH),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
    )


def checksum(engine) -> str:
    """md5 of every row (all columns but received_at), in event_id order."""
    cols = ", ".join(COLUMNS)
    return scalar(
        engine, f"SELECT md5(string_agg(t::text, '|' ORDER BY t.event_id)) FROM (SELECT {cols} FROM activity_events) t"
    )


def timed_job(proc: subprocess.Popen, settings, group: str, count: int) -> dict:
    """Times a running persist job from its first durable row to every row durable and committed."""
    engine = create_engine(settings.database_url)
    try:
        wait_until(
            lambda: proc.poll() is None and scalar(engine, "SELECT EXISTS (SELECT 1 FROM activity_events)"),
            180,
            interval=0.01,
            what=f"the first row ({group})",
        )
        started, cpu0 = time.perf_counter(), cpu_seconds(proc.pid)
        first = scalar(engine, "SELECT count(*) FROM activity_events")
        lag = lambda: sum(p.messages for p in group_lag(settings, group, settings.topic(ACTIVITY)))  # noqa: E731
        wait_until(lambda: proc.poll() is None and lag() == 0, 900, interval=0.05, what=f"{group} to catch up")
        elapsed = time.perf_counter() - started
        cpu, rss = cpu_seconds(proc.pid) - cpu0, peak_rss_mb(proc.pid)
    finally:
        stop_processor(proc)
    rows = scalar(engine, "SELECT count(*) FROM activity_events")
    digest = checksum(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE activity_events"))
    engine.dispose()
    assert rows == count, f"{group}: {rows} rows, expected {count}"
    done = count - first
    return {
        "per_s": done / elapsed,
        "cpu_s_per_million": cpu / done * 1e6,
        "peak_rss_mb": rss,
        "measured_events": done,
        "seconds": elapsed,
        "checksum": digest,
    }


def repetition(settings, events: list, rep: int, logs: Path) -> dict:
    """One repetition: the two ceilings, then Herald and Quix (alternating which goes first)."""
    count = len(events)
    cpu0 = time.process_time()
    consume = bare_consume_decode(settings, count)
    cpu1 = time.process_time()
    copy = bare_copy(settings.database_url, events)
    cpu2 = time.process_time()
    result = {
        "bare_consume_decode_per_s": consume,
        "bare_copy_per_s": copy,
        "serial_ceiling_per_s": 1 / (1 / consume + 1 / copy),
        "bare_consume_decode_cpu_s_per_million": (cpu1 - cpu0) / count * 1e6,
        "bare_copy_cpu_s_per_million": (cpu2 - cpu1) / count * 1e6,
    }
    order = ["herald", "quix"] if rep % 2 == 0 else ["quix", "herald"]
    for job in order:
        if job == "herald":
            prefix = f"{settings.group_prefix}herald{rep}-"
            proc, group = start_herald(settings, prefix, logs / f"herald-{rep}.log"), f"{prefix}persister"
        else:
            group = f"{settings.group_prefix}quix{rep}"
            proc = start_quix(settings, group, logs / f"quix-{rep}.log")
        result[job] = timed_job(proc, settings, group, count)
    result["same_rows"] = result["herald"]["checksum"] == result["quix"]["checksum"]
    result["order"] = order
    return result


def run(events: int, reps: int) -> dict:
    """Sets up once (scratch database, topic, pre-loaded events) and measures ``reps`` times."""
    quix_version = ensure_quix_venv()
    # A whole number of batches (no job ends on a timed-out partial batch), and at least four: the timing
    # starts at the first durable batch.
    events = max(-(-events // BATCH) * BATCH, 4 * BATCH)
    settings = bench_settings(scratch_database("herald_bench_peer"))
    logs = Path(f"/tmp/{settings.topic_prefix.rstrip('.')}-logs")
    logs.mkdir(exist_ok=True)
    print(f"[persist] pre-loading {events:,} events (quixstreams {quix_version}) …", flush=True)
    loaded = preload_events(settings, events)
    runs = []
    for rep in range(reps):
        runs.append(repetition(settings, loaded, rep, logs))
        print(f"[persist] rep {rep + 1}/{reps}: " + summary_line(runs[-1]), flush=True)
    return {"events": events, "runs": runs, "quix": quix_versions(), "logs": str(logs)}


def summary_line(r: dict) -> str:
    return (
        f"herald {r['herald']['per_s']:,.0f}/s, quix {r['quix']['per_s']:,.0f}/s, ceiling {r['serial_ceiling_per_s']:,.0f}/s "
        f"(consume+decode {r['bare_consume_decode_per_s']:,.0f}, COPY {r['bare_copy_per_s']:,.0f}); "
        f"same rows: {r['same_rows']}"
    )


def table(part: dict) -> list[str]:
    """Markdown rows of part 2."""
    runs = part["runs"]
    col = lambda job, key: [r[job][key] for r in runs]  # noqa: E731
    top = lambda key: [r[key] for r in runs]  # noqa: E731
    herald, quix = col("herald", "per_s"), col("quix", "per_s")
    lines = ["| job | events/s | CPU-s per million events | peak RSS (MB) |", "|---|---|---|---|"]
    for name, job in (("Herald persister", "herald"), (f"Quix Streams {part['quix']['quixstreams']} app", "quix")):
        lines.append(
            f"| {name} | {cell(col(job, 'per_s'))} | {cell(col(job, 'cpu_s_per_million'), ',.1f')} | "
            f"{cell(col(job, 'peak_rss_mb'))} |"
        )
    lines += [
        f"| ceiling: bare consume + decode | {cell(top('bare_consume_decode_per_s'))} | "
        f"{cell(top('bare_consume_decode_cpu_s_per_million'), ',.1f')} | |",
        f"| ceiling: bare COPY + ON CONFLICT (client side; rows pre-built) | {cell(top('bare_copy_per_s'))} | "
        f"{cell(top('bare_copy_cpu_s_per_million'), ',.1f')} | |",
        f"| ceiling: serial composition of the two | {cell(top('serial_ceiling_per_s'))} | "
        f"{cell([a + b for a, b in zip(top('bare_consume_decode_cpu_s_per_million'), top('bare_copy_cpu_s_per_million'), strict=True)], ',.1f')} | |",
        "",
        "| ratio (per run, then median) | value | target |",
        "|---|---|---|",
        f"| Herald / Quix Streams | {cell(ratio(herald, quix), '.2f')} | ≥ 1.5 |",
        f"| Herald / serial ceiling | {cell(ratio(herald, top('serial_ceiling_per_s')), '.2f')} | ≥ 0.5 |",
        f"| Quix Streams / serial ceiling | {cell(ratio(quix, top('serial_ceiling_per_s')), '.2f')} | |",
        f"| Herald / slower bare stage | {cell(ratio(herald, [min(r['bare_consume_decode_per_s'], r['bare_copy_per_s']) for r in runs]), '.2f')} | |",
        f"| both wrote identical rows (checksum) | {', '.join(str(r['same_rows']) for r in runs)} | |",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    print("\n".join(table(run(args.events, args.reps))))


if __name__ == "__main__":
    main()
