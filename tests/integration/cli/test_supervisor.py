"""``herald run all`` under a real supervisor (cli/supervisor.py, also ``herald demo``'s): its children
never outlive it, a dead one is reported and started again after a growing wait, their lines come
prefixed with their names, and SIGTERM or Ctrl-C stops them all with exit code 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.processes import wait_until
from processors.registry import PROCESSES
from tests.ports import free_port

pytestmark = pytest.mark.integration
PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # state, ppid, ...


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def children(parent: int) -> dict[str, int]:
    """``herald run NAME`` children of ``parent``, by NAME."""
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[1] == str(parent) and stat[0] != "Z":
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"run" in argv:
                found[argv[argv.index(b"run") + 1].decode()] = int(entry.name)
    return found


def start_run_all(pipeline, tmp_path) -> subprocess.Popen:
    env = {**os.environ, **pipeline.env, "HERALD_API_PORT": str(free_port()), "HERALD_ENV": "dev"}
    out = open(tmp_path / "run-all.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run", "all"], env=env, stdout=out, stderr=subprocess.STDOUT
    )
    pipeline.processes.append(proc)
    wait_until(lambda: set(children(proc.pid)) == set(PROCESSES), 60, what="every child of `herald run all`")
    api_up = re.compile(r"^api +\| .*Uvicorn running", re.MULTILINE)  # its lines come prefixed with its name
    wait_until(lambda: api_up.search((tmp_path / "run-all.log").read_text()), 60, what="the API to answer")
    return proc


def test_given_the_supervisor_is_sigkilled_then_no_child_outlives_it(pipeline, tmp_path):
    parent = start_run_all(pipeline, tmp_path)
    pids = children(parent.pid)

    parent.send_signal(signal.SIGKILL)
    parent.wait(10)

    wait_until(
        lambda: not any(alive(pid) for pid in pids.values()),
        30,
        what=f"the children {sorted(pids)} to end after their parent's SIGKILL",
    )


def test_given_a_child_dies_then_it_is_restarted_and_sigterm_stops_everything_with_exit_0(pipeline, tmp_path):
    parent = start_run_all(pipeline, tmp_path)
    first = children(parent.pid)

    os.kill(first["persister"], signal.SIGKILL)
    wait_until(
        lambda: children(parent.pid).get("persister", first["persister"]) != first["persister"],
        30,
        what="the persister to be started again",
    )
    again = children(parent.pid)
    parent.send_signal(signal.SIGTERM)

    assert parent.wait(60) == 0
    assert not any(alive(pid) for pid in again.values())  # stopped, not left behind
    log = (tmp_path / "run-all.log").read_text()
    assert f"persister (pid {first['persister']}) died with signal SIGKILL" in log
    assert "persister restarted" in log


def test_given_a_child_refuses_its_configuration_then_it_is_not_restarted_while_a_crashing_one_is():
    from cli.supervisor import ChildSpec, Supervisor
    from streams.retry import RetryPolicy

    reports: list[str] = []
    supervisor = Supervisor(
        [
            ChildSpec("port-taken", [sys.executable, "-c", "raise SystemExit(78)"]),
            ChildSpec("crashing", [sys.executable, "-c", "raise SystemExit(1)"]),
        ],
        report=reports.append,
        backoff=RetryPolicy(base=0.05, cap=0.2),
    )
    supervisor.start()
    try:
        wait_until(lambda: supervisor.restarts("crashing") >= 3, 30, interval=0.05, what="three restarts")
    finally:
        supervisor.stop()

    assert supervisor.restarts("port-taken") == 0
    assert any(r.startswith("port-taken exited with code 78 (its port is taken); not restarting") for r in reports)
    assert any(r.startswith("crashing (pid ") and "died with exit code 1" in r for r in reports)


SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]


def test_given_ctrl_c_in_the_terminal_then_every_child_stops_and_the_supervisor_exits_0(tmp_path):
    # Given a supervisor in a terminal's foreground process group (a session of its own here)
    driver = (
        "import sys; from cli.supervisor import ChildSpec, Supervisor; "
        f"sys.exit(Supervisor([ChildSpec('one', {SLEEPER!r}), ChildSpec('two', {SLEEPER!r})]).run())"
    )
    out = open(tmp_path / "out.log", "wb")
    parent = subprocess.Popen(
        [sys.executable, "-c", driver], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_until(lambda: len(_kids(parent.pid)) == 2, 30, what="two children")
        wait_until(lambda: (tmp_path / "out.log").read_text().count("| up") == 2, 30, what="both children's output")
        kids = _kids(parent.pid)

        # When Ctrl-C reaches the whole foreground group
        os.killpg(parent.pid, signal.SIGINT)

        # Then the supervisor stops the children itself and exits 0, leaving none behind
        assert parent.wait(30) == 0
    finally:
        if parent.poll() is None:
            parent.kill()
    assert not any(alive(pid) for pid in kids)
    log = (tmp_path / "out.log").read_text()
    assert "one stopped with exit code -15" in log and "two stopped with exit code -15" in log


# On SIGTERM it takes a second to exit, with SIGTERM's default action back in place meanwhile, as a
# Python process has while its interpreter finishes after the handler let the loop end.
SLOW_EXIT = [
    sys.executable,
    "-c",
    "import signal, sys, time\n"
    "def finish(*_):\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
    "    time.sleep(1)\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, finish)\n"
    "print('up', flush=True)\n"
    "time.sleep(600)\n",
]


def test_a_child_gets_one_sigterm_and_stops_with_its_own_exit_code():
    import io

    from cli.supervisor import ChildSpec, Supervisor

    # A second SIGTERM sent at once after the first is often merged with it by the kernel, so one child
    # would see it rarely; each of eight is a chance for it to land while the child exits.
    names = [f"child-{i}" for i in range(8)]
    out = io.StringIO()
    supervisor = Supervisor([ChildSpec(n, SLOW_EXIT) for n in names], out=out, report=lambda line: None)
    supervisor.start()
    try:
        wait_until(lambda: out.getvalue().count("| up") == len(names), 30, interval=0.05, what="every child's line")
    finally:
        codes = supervisor.stop()
    assert codes == dict.fromkeys(names, 0)  # a second SIGTERM while one exits would make it -15


def _kids(parent: int) -> list[int]:
    return [
        int(e.name)
        for e in PROC.iterdir()
        if e.name.isdigit() and (stat := _stat(int(e.name))) and stat[1] == str(parent) and stat[0] != "Z"
    ]


def test_child_lines_are_prefixed_with_its_name_on_the_supervisors_output():
    import io

    from cli.supervisor import ChildSpec, Supervisor

    out = io.StringIO()
    supervisor = Supervisor(
        [ChildSpec("persister", [sys.executable, "-c", "print('one'); print('two')"]), ChildSpec("api", SLEEPER)],
        out=out,
        report=lambda line: None,
    )
    supervisor.start()
    try:
        wait_until(
            lambda: "persister | two" in out.getvalue() and "api       | up" in out.getvalue(),
            30,
            interval=0.05,
            what="the children's lines",
        )
    finally:
        supervisor.stop()
    assert "persister | one\npersister | two\n" in out.getvalue()


def test_a_child_that_keeps_dying_is_restarted_after_longer_and_longer_waits():
    from cli.supervisor import ChildSpec, Supervisor
    from streams.retry import RetryPolicy

    reports: list[str] = []
    supervisor = Supervisor(
        [ChildSpec("crashing", [sys.executable, "-c", "raise SystemExit(1)"])],
        report=reports.append,
        backoff=RetryPolicy(base=0.1, cap=0.4, jitter=False),
    )
    supervisor.start()
    try:
        wait_until(lambda: supervisor.restarts("crashing") >= 4, 30, interval=0.05, what="four restarts")
    finally:
        supervisor.stop()

    waits = [float(re.search(r"restarting it in ([0-9.]+) s", r).group(1)) for r in reports if "restarting it in" in r]
    assert waits[:4] == [0.1, 0.2, 0.4, 0.4]  # doubling, up to the cap
