"""Starting and stopping processor subprocesses in tests and benchmarks (the demo and `herald run all`
supervise theirs: cli/supervisor.py), waiting on a condition, and the ports a set of processes needs."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

from pydantic_settings import BaseSettings

from processors.registry import Process


def start_processor(module: str, env: dict[str, str] | None = None, log_path: str | None = None) -> subprocess.Popen:
    """``python -m <module>`` with the current env plus ``env``; output to ``log_path`` (or inherited)."""
    out = open(log_path, "ab") if log_path else None
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
    )


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


def ports_of(names: list[str], env: Mapping[str, str] | None = None) -> dict[int, str]:
    """The ports the processes ``names`` will listen on (port → the setting that moves it): each
    process's registered port unless its setting is set (``HERALD_METRICS_PORT``, 0: none; the API's
    ``HERALD_API_PORT``)."""
    from processors.registry import PROCESSES

    environ: Mapping[str, str] = os.environ if env is None else env
    ports: dict[int, str] = {}
    for name in names:
        process = PROCESSES[name]
        value = environ.get(process.port_setting)
        port = process.port if value is None or value == "" else int(value)
        if port:
            ports[port] = process.port_setting
    return ports


def settings_class(process: Process) -> type[BaseSettings]:
    """The settings class a registered process is configured by (imported here: the API's is above
    the registry's layer)."""
    module, _, name = process.settings.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, BaseSettings)):
        raise TypeError(f"{process.name}: {process.settings} is not a settings class")
    return cls


def ports_taken(names: list[str], env: dict[str, str] | None = None) -> list[str]:
    """One line per port the processes ``names`` need that another process holds, naming its pid."""
    from streams.ports import busy_ports

    return busy_ports(ports_of(names, env))
