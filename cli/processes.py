"""Starting and stopping processor subprocesses in tests and benchmarks (the demo and `herald run all`
supervise theirs: cli/supervisor.py), waiting on a condition, and the ports a set of processes needs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable


def start_processor(module: str, env: dict[str, str] | None = None, log_path: str | None = None) -> subprocess.Popen:
    """``python -m <module>`` with the current env plus ``env``; output to ``log_path`` (or inherited)."""
    out = open(log_path, "ab") if log_path else None
    return subprocess.Popen([sys.executable, "-m", module], env={**os.environ, **(env or {})},
                            stdout=out, stderr=subprocess.STDOUT if out else None)


def stop_processor(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2, what: str = "condition") -> None:
    """Polls ``condition`` until true; raises TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def ports_of(names: list[str], env: dict[str, str] | None = None) -> dict[int, str]:
    """The ports the processes ``names`` will listen on (port → the setting that moves it): each
    process's default metrics port unless ``HERALD_METRICS_PORT`` is set (0: none), the API's own."""
    from streams.health import DEFAULT_PORTS

    env = os.environ if env is None else env
    metrics = env.get("HERALD_METRICS_PORT")
    ports: dict[int, str] = {}
    for name in names:
        if name == "api":
            ports[int(env.get("HERALD_API_PORT") or DEFAULT_PORTS["api"])] = "HERALD_API_PORT"
        elif metrics is None:
            ports[DEFAULT_PORTS[name]] = "HERALD_METRICS_PORT"
        elif int(metrics):
            ports[int(metrics)] = "HERALD_METRICS_PORT"
    return ports


def ports_taken(names: list[str], env: dict[str, str] | None = None) -> list[str]:
    """One line per port the processes ``names`` need that another process holds, naming its pid."""
    from streams.ports import busy_ports

    return busy_ports(ports_of(names, env))
