"""Detached processes and what `up` recorded about them.

devstack.json (the state file) holds one record per service; pid files live
under the state dir's run/. Kafka and the FCM emulator use `_start_process` /
`_stop_process`, which give them the same pid files, logs, readiness wait and
state records. `_run` runs short setup commands; `_port_open` is the cheap
probe before a slower readiness check.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

from cli.devstack.errors import DevstackError, _failure
from cli.devstack.paths import state_dir
from cli.devstack.report import _say

STOP_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------
# State file
# --------------------------------------------------------------------------


def _state_file() -> Path:
    return state_dir() / "devstack.json"


def _load_state() -> dict:
    """Read what earlier `up` calls recorded; a missing or corrupt file means
    we started nothing (so `down` will stop nothing it cannot identify)."""
    try:
        return json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return {}


def _update_state(name: str, record: dict | None) -> None:
    """Replace (or with None, drop) one service's record in devstack.json."""
    state = _load_state()
    if record is None:
        state.pop(name, None)
    else:
        state[name] = record
    tmp = _state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(_state_file())  # atomic, so a crash never leaves half a file


def _run(argv: Sequence[str], what: str, **kwargs) -> str:
    """Run a short setup command, returning its output; on a non-zero exit
    raise with the command's output, since that is the only diagnosis."""
    try:
        proc = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    except FileNotFoundError as exc:
        raise DevstackError(f"{what}: {argv[0]} not found ({exc})") from exc
    if proc.returncode != 0:
        output = "\n".join(proc.stdout.splitlines()[-40:])
        raise DevstackError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{output}")
    return proc.stdout


# --------------------------------------------------------------------------
# Generic detached processes (Kafka, and later e.g. an FCM emulator)
# --------------------------------------------------------------------------


def _pid_file(name: str) -> Path:
    path = state_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{name}.pid"


def _read_pid(name: str) -> int | None:
    try:
        return int(_pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_running(pid: int) -> bool:
    """True if the pid exists and is not a zombie (a zombie is our own dead
    child from this very Python process; reap it so it disappears)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: started by an earlier `up`
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _process_alive(name: str) -> int | None:
    """Pid of the named service if the process we started is still running.
    The command line is compared with the one recorded at start, so a pid
    reused by an unrelated process is never taken for ours (nor killed)."""
    pid = _read_pid(name)
    if pid is None or not _pid_running(pid):
        return None
    argv = _load_state().get(name, {}).get("argv")
    if argv:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            return None
        if [part.decode(errors="replace") for part in cmdline] != argv:
            return None
    return pid


def _start_process(
    name: str,
    argv: Sequence[str],
    log: Path,
    ready: Callable[[], bool],
    timeout: float,
    extra_logs: Sequence[Path] = (),
    env: dict | None = None,
) -> int:
    """Start `argv` detached (own session, so it outlives this CLI and can be
    stopped as a group), append its stdout/stderr to `log`, write its pid
    file and state record, then poll `ready()` until true.

    Raises DevstackError if the process exits or `timeout` passes first; the
    error quotes `log` and `extra_logs`. A process that never got ready is
    stopped, so the next `up` starts clean.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=state_dir(),
        )
    _pid_file(name).write_text(f"{proc.pid}\n")
    _update_state(
        name, {"mode": "started", "pid": proc.pid, "argv": list(argv), "log": str(log), "started_at": time.time()}
    )
    _wait_ready(name, proc, ready, timeout, [log, *extra_logs])
    return proc.pid


def _wait_ready(name, proc, ready, timeout, logs) -> None:
    """Poll `ready()` while the process lives; see `_start_process`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _forget_process(name)
            raise _failure(f"{name}: process exited with code {proc.returncode} before it was ready", logs)
        if ready():
            return
        time.sleep(0.5)
    _stop_process(name)
    raise _failure(f"{name}: not ready after {timeout:.0f} s (stopped it again)", logs)


def _forget_process(name: str) -> None:
    _pid_file(name).unlink(missing_ok=True)
    _update_state(name, None)


def _stop_process(name: str, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the process group of a service we started: SIGTERM, wait up to
    `timeout`, then SIGKILL. Returns False if it was not running. Processes
    we did not start (no pid file, or pid reused) are never signalled."""
    pid = _process_alive(name)
    if pid is None:
        _forget_process(name)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _pid_running(pid):
        _say(f"{name}: still running after {timeout:.0f} s, sending SIGKILL")
        _signal_group(pid, signal.SIGKILL)
        while _pid_running(pid):
            time.sleep(0.1)
    _forget_process(name)
    return True


def _signal_group(pid: int, sig: int) -> None:
    """Signal the whole session we created (pgid == pid via start_new_session),
    so helper children die with the service."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _port_open(host: str, port: int) -> bool:
    """Cheap pre-check: a refused connect answers in microseconds, whereas a
    metadata call against a closed port only gives up at its timeout."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
