"""Scale-out: how long a second push-sender replica takes to own its share of the partitions.

The pipeline of ``bench/pipeline.py`` (one replica of each processor) runs, optionally under load
(``--rate`` events/s); then a second push-sender replica starts (``push-sender-1``, a static member
like the first) and the time from its process start to a stable group in which both replicas own
partitions is reported. Partitions moving between the two are unowned meanwhile: a cooperative
rebalance takes two rounds, and a member hears of each round at its next heartbeat
(``streams/app.py:membership``).

    .venv/bin/python bench/scale_out.py [--rate 0] [--reps 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pipeline import Load, build_pipeline  # noqa: E402
from cli.processes import wait_until  # noqa: E402


def join_once(rate: float) -> float:
    pipeline = build_pipeline("scaleout")
    try:
        wait_until(pipeline.ready, 120, interval=0.5, what="the processors to start")
        load = Load(pipeline, rate) if rate else None
        if load:
            load.start()
            time.sleep(5)
        started = time.monotonic()
        pipeline.add_replica("push-sender")  # push-sender-1
        wait_until(pipeline.settled, 120, interval=0.1, what="the group to settle with two replicas")
        took = time.monotonic() - started
        if load:
            assert load.stop() == 0, "the broker did not acknowledge every event"
        return took
    finally:
        pipeline.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0, help="events/s published meanwhile (0: idle)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    times = [join_once(args.rate) for _ in range(args.reps)]
    print(
        f"second push-sender replica, process start → group settled ({args.rate:g} events/s): "
        + ", ".join(f"{t:.1f} s" for t in times)
    )


if __name__ == "__main__":
    main()
