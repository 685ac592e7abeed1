"""Starting and stopping processor subprocesses (demo, tests, benchmarks)."""
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
