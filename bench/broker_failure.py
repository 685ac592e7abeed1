"""Broker failure under load on a three-node cluster, with the full minute down: counts and recovery times.

The scenarios are the fault suite's (``tests/faults/failover.py``: the node leading most partitions
SIGKILLed, the active controller SIGKILLed, each started again on its data after ``--down`` seconds;
then a rolling restart of all three), run on the suite's own three-node cluster, Postgres and FCM
emulator, never the shared stack. This script runs that module with the benchmark's delay and prints
each fault's figures: events lost, duplicate rows, pushes lost, pushes accepted twice, seconds until
every group's lag was steady again (while the node was down, and after its return), replicas in sync.
It runs the suite as a child process rather than importing it (benchmarks import no test code): the
scenarios and their audit exist once, and the assertions of the test hold here too (exit code).

Usage: python bench/broker_failure.py [--down 60]   (~8 minutes)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import save  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODULE = "tests/faults/test_broker_failover.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--down", type=float, default=60.0, help="seconds each killed node stays down")
    args = parser.parse_args()
    env = {**os.environ, "HERALD_BROKER_DOWN_S": str(args.down), "HERALD_BROKER_FAULTS": "separate"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", MODULE],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    took = time.monotonic() - started
    lines = list(dict.fromkeys(line for line in proc.stdout.splitlines() if line.startswith("[fault]")))
    print(f"broker failure, three nodes, each killed node down {args.down:.0f} s ({took / 60:.1f} min in all):")
    for line in lines:
        print(line)
    summary = [line for line in proc.stdout.splitlines() if " passed" in line or " failed" in line or "error" in line]
    print(
        f"assertions (lost 0, duplicates 0, pushes lost 0, duplicate pushes bounded, steady within 60 s): "
        f"{summary[-1] if summary else 'no result'}"
    )
    if proc.returncode != 0:
        print(proc.stdout[-6000:])
    path = save("broker_failure", {"down_s": args.down, "runs": lines, "exit": proc.returncode, "took_s": took})
    print(f"saved {path}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
