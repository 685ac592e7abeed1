"""``herald demo`` (what ``make demo`` runs) against a freshly formatted broker, three times in a row:
it must finish with exit code 0 and leave no process and no port behind.

The demo is pointed at the suite's broker, Postgres and emulator by ``HERALD_*`` variables. Its first
step, ``herald dev up``, knows only the shared stack's addresses; with ``HERALD_STATE_DIR`` of its own
and ``HERALD_FCM_EMULATOR_PORT`` naming the suite's emulator it finds everything up and starts or stops
nothing. Two starts of the fresh broker: "metadata", ready once a metadata call answers (what
``herald dev up`` waited for before it waited for the coordinators too), so the demo meets coordinators
that may still be loading; and "coordinators", ready once the probes of ``herald dev up``
(``cli.devstack.coordinators``) succeed: the state ``make demo`` now starts from.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.devstack.paths import REPO_ROOT
from cli.processes import wait_until
from tests.faults.scenario import report
from tests.ports import free_port, port_open

pytestmark = pytest.mark.faults
EVENTS = 300
TIMEOUT_S = 420


def ours(bootstrap: str) -> list[str]:
    """Herald processes (``processors.*`` or ``cli.main run``) whose environment names ``bootstrap``:
    the demo's children, not anyone else's."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        herald = "processors." in cmdline or "cli.main" in cmdline
        if herald and f"HERALD_KAFKA_BOOTSTRAP={bootstrap}".encode() in environ:
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


@pytest.mark.parametrize("run", [1, 2, 3])
@pytest.mark.parametrize("ready", ["metadata", "coordinators"])
def test_demo_on_a_freshly_formatted_broker(ready, run, fault_kafka, fault_postgres, fault_fcm, fault_root):
    fault_kafka.stop()
    fault_kafka.format()
    fault_kafka.start(coordinators=ready == "coordinators")
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(
        {
            "HERALD_STATE_DIR": str(fault_root / "demo-state"),
            "HERALD_FCM_EMULATOR_PORT": str(fault_fcm.port),
            "HERALD_KAFKA_BOOTSTRAP": fault_kafka.bootstrap,
            "HERALD_DATABASE_URL": fault_postgres.url,
            "HERALD_METRICS_PORT": "0",
            "HERALD_API_PORT": str(api_port),
            "HERALD_CACHE_DIR": os.environ.get("HERALD_CACHE_DIR") or str(Path.home() / ".cache" / "herald"),
        }
    )
    log = fault_root / f"demo-{ready}-{run}.log"
    started = time.monotonic()
    try:
        with open(log, "wb") as out:
            proc = subprocess.run(
                [sys.executable, "-m", "cli.main", "demo", "--events", str(EVENTS)],
                check=False,
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT_S,
            )
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = None
    took = time.monotonic() - started
    try:
        wait_until(lambda: not ours(fault_kafka.bootstrap), 10, what="the demo's processes to end")
    except TimeoutError:
        pass
    left, api_bound = ours(fault_kafka.bootstrap), port_open(api_port)
    output = log.read_text(errors="replace")
    fault_fcm.reset()  # the demo scripted faults into the emulator the other fault tests use
    fault_kafka.wait_ready(60)
    report(
        f"[fault] demo on a fresh broker (ready at first: {ready}), run {run}: exit code {code} after {took:.1f}s; "
        f"processes left {len(left)}; API port still bound: {api_bound}"
    )
    tail = "\n".join(output.splitlines()[-40:])
    assert code == 0, (
        f"herald demo exited with {code} after {took:.1f}s (-11: SIGSEGV); log {log}; its output ends:\n{tail}"
    )
    died = [line.strip() for line in output.splitlines() if " died with " in line]
    assert not died, f"children died during the demo (the supervisor restarted them): {died}"
    assert not left and not api_bound, f"left behind: {left}, API port {api_port} bound: {api_bound}"
