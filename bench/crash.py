"""Part 5 of `make bench`: SIGKILL each processor once under load, restart it, count what went wrong.

The pipeline of ``bench/pipeline.py`` runs at a fixed offered load (``--rate``; `make bench` passes half
the maximum measured by part 4). Each processor is SIGKILLed once (no batch finished, no offset
committed, no transaction ended) and started again at once: first the persister and the push sender
together, then, ``--spacing`` seconds after both recovered, the fan-out (the push sender's input only
flows while the fan-out runs).

* recovery time: from the SIGKILL until the restarted processor's group has committed past every record
  that was on its input topic half a second after the kill. Each processor runs with an instance id
  (static membership, ``bench/pipeline.py``), so its restart takes the partitions back at once; without
  one, a killed member keeps them until the broker's session timeout expires (``HERALD_SESSION_TIMEOUT_MS``,
  default 45 s), which dominated recovery before (44–80 s);
* events lost: acknowledged events with no activity_events row; notifying events never marked as fanned
  out (notification_sent_at null); pushes lost: (notification, token) pairs that should have been pushed
  (bell rows with a push decided, × the user's active tokens) and never reached the emulator;
* duplicates: activity_events and user_notifications rows per key beyond one (their primary keys make
  this 0 by construction; counted anyway), and pushes per (notification, token) beyond one at the emulator.

Usage: python bench/crash.py [--rate 100] [--spacing 10] [--reps 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.pipeline import INPUT, PROCESSORS, Load, Pipeline, build_pipeline  # noqa: E402
from bench.stats import cell  # noqa: E402
from cli.processes import wait_until  # noqa: E402
from streams.topics import PUSH  # noqa: E402

# The push sender's input only flows while the fan-out runs, so it is killed beside the persister
# (whose input is independent) and the fan-out after both have recovered.
KILL_ORDER = (("persister", "push-sender"), ("fanout",))


def kill_and_recover(pipeline: Pipeline, rate: float, spacing: float) -> tuple[dict[str, float], Load]:
    """Runs the load and kills the processors in KILL_ORDER, ``spacing`` s after the previous recovery;
    returns seconds to recover by processor, and the load (for the audit)."""
    load = Load(pipeline, rate)
    load.start()
    recovered: dict[str, float] = {}
    for victims in KILL_ORDER:
        time.sleep(spacing)
        killed_at = {}
        for name in victims:
            killed_at[name] = time.monotonic()
            pipeline.kill(name)
            pipeline.start(name)
        # The input as it stands after the kill (plus a moment for new records to arrive): records the dead
        # process may have committed just before dying cannot make the recovery look instant.
        time.sleep(0.5)
        pending = {name: (at, input_tails(pipeline, name)) for name, at in killed_at.items()}
        while pending:
            time.sleep(0.2)
            for name, (killed_at, tails) in list(pending.items()):
                committed = {p: c for p, (c, _) in pipeline.offsets(name).items()}
                if all(committed.get(p, -1) >= offset for p, offset in tails.items()):
                    recovered[name] = time.monotonic() - killed_at
                    del pending[name]
                elif time.monotonic() - killed_at > 600:
                    raise TimeoutError(f"{name} did not recover within 600 s")
    time.sleep(spacing)  # more load after the last recovery
    assert load.stop() == 0, "the broker did not acknowledge every event"
    wait_until(pipeline.caught_up, 600, interval=0.5, what="the pipeline to drain")
    return recovered, load


def input_tails(pipeline: Pipeline, name: str) -> dict[int, int]:
    """Per partition of the processor's input, the offset its group must commit to have processed every
    record there now. The push topic is written in transactions: its last stable offset is one past a
    commit marker, which a consumer skips and never commits past."""
    marker = 1 if INPUT[name] == PUSH else 0
    return {p: end - marker for p, (_, end) in pipeline.offsets(name).items() if end - marker > 0}


def audit(pipeline: Pipeline, load: Load) -> dict:
    """What the run lost or duplicated, from the database and the emulator's record."""
    ids = list(load.published)
    engine = create_engine(pipeline.settings.database_url)
    with engine.connect() as conn:
        stored = set(
            conn.execute(
                text("SELECT event_id FROM activity_events WHERE event_id = ANY(:ids)"), {"ids": ids}
            ).scalars()
        )
        unmarked = conn.execute(
            text(
                "SELECT count(*) FROM activity_events WHERE event_id = ANY(:ids) AND notify "
                "AND notification_sent_at IS NULL"
            ),
            {"ids": list(load.notify)},
        ).scalar_one()
        duplicate_rows = conn.execute(
            text(
                "SELECT (SELECT count(*) - count(DISTINCT event_id) FROM activity_events) + "
                "(SELECT count(*) - count(DISTINCT notification_id) FROM user_notifications)"
            )
        ).scalar_one()
        expected = {
            (str(n), t)
            for n, t in conn.execute(
                text(
                    "SELECT u.notification_id, d.token FROM user_notifications u JOIN device_tokens d USING (user_id) "
                    "WHERE u.event_id = ANY(:ids) AND u.push_status <> 'none' AND d.retired_at IS NULL"
                ),
                {"ids": ids},
            )
        }
    engine.dispose()
    pushed = Counter((m["message"]["data"]["notification_id"], m["token"]) for m in pipeline.pushes())
    return {
        "events": len(ids),
        "events_lost": len(set(ids) - stored),
        "fanout_lost": unmarked,
        "duplicate_rows": duplicate_rows,
        "pushes_expected": len(expected),
        "pushes_lost": len(expected - set(pushed)),
        "duplicate_pushes": sum(c - 1 for c in pushed.values() if c > 1),
        "pairs_pushed_more_than_once": sum(1 for c in pushed.values() if c > 1),
    }


def run(rate: float, spacing: float, reps: int) -> dict:
    pipeline = build_pipeline("crash")
    try:
        wait_until(pipeline.ready, 120, interval=0.5, what="the processors to start")
        runs = []
        for rep in range(reps):
            pipeline.clear_pushes()
            recovered, load = kill_and_recover(pipeline, rate, spacing)
            runs.append({"recovery_s": recovered, **audit(pipeline, load)})
            r = runs[-1]
            print(
                f"[crash] rep {rep + 1}/{reps}: recovery "
                + ", ".join(f"{n} {s:.1f}s" for n, s in recovered.items())
                + f"; lost {r['events_lost']} events, {r['fanout_lost']} fan-outs, {r['pushes_lost']} pushes; "
                f"duplicate rows {r['duplicate_rows']}, duplicate pushes {r['duplicate_pushes']}",
                flush=True,
            )
        return {"rate": rate, "spacing": spacing, "runs": runs, "logs": str(pipeline.logs)}
    finally:
        pipeline.stop()


def table(part: dict) -> list[str]:
    runs = part["runs"]
    col = lambda key: [r[key] for r in runs]  # noqa: E731
    lines = [
        f"Offered load {part['rate']:,.0f} events/s; persister and push sender SIGKILLed together, then the fan-out "
        f"{part['spacing']:.0f} s after they recovered, each restarted at once; {cell(col('events'))} events and "
        f"{cell(col('pushes_expected'))} pushes per run.",
        "",
        "| | per run: median (min–max) | target |",
        "|---|---|---|",
        f"| events lost (no activity_events row) | {cell(col('events_lost'))} | 0 |",
        f"| notifying events never fanned out | {cell(col('fanout_lost'))} | 0 |",
        f"| pushes lost (notification, token) | {cell(col('pushes_lost'))} | 0 |",
        f"| duplicate rows (activity_events, user_notifications) | {cell(col('duplicate_rows'))} | 0 |",
        f"| duplicate pushes per (notification, token) | {cell(col('duplicate_pushes'))} | |",
    ]
    for name in PROCESSORS:
        lines.append(f"| recovery time, {name} (s) | {cell([r['recovery_s'].get(name) for r in runs], ',.1f')} | |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--spacing", type=float, default=10)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    print("\n".join(table(run(args.rate, args.spacing, args.reps))))


if __name__ == "__main__":
    main()
