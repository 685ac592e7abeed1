"""A small process supervisor for ``herald run all`` and ``herald demo``: children that cannot outlive it.

Each child is started with Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``), so a
supervisor that crashes or is SIGKILLed takes its children with it: left running, they held their ports
and the next start failed in every log with "Address already in use". Each child also gets its own
process group, so a Ctrl-C in the terminal reaches the supervisor only, which then stops the children
in order (SIGTERM, a deadline, SIGKILL) and exits 0.

A child that dies is reported and started again after ``compute_backoff`` (streams/retry.py): a crash
loop slows down to one start per ``cap`` seconds, a child that ran for ``stable_after_s`` starts again at
once. Exit codes in ``FINAL_CODES`` mean a configuration the child refused (insecure API settings, a port
taken by another process): starting it again cannot help, so it is reported and left stopped.

Output: each child's lines go to its log file, or (no log file) to the supervisor's stdout prefixed
with the child's name, so one terminal shows every process.

The parent-death signal fires when the *thread* that forked the child ends, not the process; so
children are only started from the supervisor's watcher thread, which outlives them (``stop`` ends the
children before it lets that thread go).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Callable, TextIO

from streams.retry import RetryPolicy, compute_backoff

PR_SET_PDEATHSIG = 1
FINAL_CODES = {2: "refused its settings", 78: "its port is taken"}  # api/__main__.py, streams/health.py
RESTART_BACKOFF = RetryPolicy(base=1.0, cap=30.0)  # a crash loop slows to one start per 30 s
_libc = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child must not load libraries


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn``: ``sig`` to the child when its parent ends. If the parent ended between the fork
    and the ``prctl`` (the child was already re-parented), the signal would never come: exit now."""

    def preexec() -> None:
        if _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            os._exit(71)
        if os.getppid() != parent:
            os._exit(0)

    return preexec


@dataclass
class ChildSpec:
    """One process to keep running: ``argv`` with the supervisor's environment plus ``env``."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    log_path: str | None = None  # None: prefixed lines on the supervisor's stdout


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # deaths in a row without a stable run in between
    restarts: int = 0
    due_at: float | None = None  # when to start it again
    final: bool = False  # refused its configuration: not started again


class Supervisor:
    """``start()`` the children and watch them; ``stop()`` ends them; ``run()`` does both until a signal."""

    def __init__(
        self,
        specs: list[ChildSpec],
        *,
        report: Callable[[str], None] | None = None,
        out: TextIO | None = None,
        backoff: RetryPolicy = RESTART_BACKOFF,
        stable_after_s: float = 60.0,
        stop_timeout_s: float = 20.0,
        poll_s: float = 0.1,
    ) -> None:
        self._children = {spec.name: _Child(spec) for spec in specs}
        self._out = out or sys.stdout
        self._report = report or (lambda line: self._write("supervisor", line + "\n"))
        self._backoff, self._stable_after_s = backoff, stable_after_s
        self._stop_timeout_s, self._poll_s = stop_timeout_s, poll_s
        self._lock = threading.Lock()  # one writer at a time on ``out``
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._watcher: threading.Thread | None = None
        self._readers: list[threading.Thread] = []
        self._width = max((len(s.name) for s in specs), default=0)

    # -- the public surface ------------------------------------------------------------------------

    def start(self) -> Supervisor:
        """Starts every child (on the watcher thread, see the module's docstring) and returns at once."""
        self._watcher = threading.Thread(target=self._watch, name="herald-supervisor", daemon=True)
        self._watcher.start()
        self._started.wait()
        return self

    def pid(self, name: str) -> int | None:
        """The pid of ``name``'s current process while it runs."""
        child = self._children[name]
        proc = child.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def running(self, name: str) -> bool:
        return self.pid(name) is not None

    def restarts(self, name: str) -> int:
        return self._children[name].restarts

    def stop(self) -> dict[str, int | None]:
        """SIGTERM to every child, SIGKILL to those still there after ``stop_timeout_s``; returns each
        child's exit code (None: it was not running). The watcher thread does it before it ends."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        for reader in self._readers:
            reader.join(2)
        return {name: None if c.proc is None else c.proc.returncode for name, c in self._children.items()}

    def _stop_children(self) -> None:
        """One SIGTERM each, then the deadline. Only one: the watcher thread's end would send a second (the
        parent-death signal) to a child still exiting, and a Python process past its handlers (finishing
        its interpreter) dies of it with -15 instead of the exit code it was ending with."""
        procs = {name: c.proc for name, c in self._children.items() if c.proc is not None}
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout_s
        for name, proc in procs.items():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                self._report(f"{name} did not stop within {self._stop_timeout_s:.0f} s of SIGTERM: SIGKILL")
                proc.kill()
                proc.wait()

    def run(self) -> int:
        """Until SIGINT or SIGTERM: then stops every child and returns 0 (the exit code of a clean stop)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stopping.set())
        self.start()
        while not self._stopping.wait(0.5):  # a timed wait: signal handlers run between the waits
            pass
        self._report(f"stopping every process (SIGTERM, then SIGKILL after {self._stop_timeout_s:.0f} s)")
        for name, code in self.stop().items():
            self._report(f"{name} stopped" + (f" with exit code {code}" if code is not None else ""))
        return 0

    # -- the watcher thread ------------------------------------------------------------------------

    def _watch(self) -> None:
        # Nothing may end this thread early: its end sends every child its death signal.
        for child in self._children.values():
            self._start_or_retry(child)
        self._started.set()
        while not self._stopping.wait(self._poll_s):
            now = time.monotonic()
            for child in self._children.values():
                try:
                    self._check(child, now)
                except Exception as exc:  # noqa: BLE001 (keep watching the others)
                    self._report(f"watching {child.spec.name} failed ({type(exc).__name__}: {exc}); trying again")
        self._stop_children()  # before this thread ends: its end signals every child still there

    def _start_or_retry(self, child: _Child) -> None:
        try:
            self._spawn(child)
        except OSError as exc:  # no fork, no exec: try again after the backoff
            child.failures += 1
            wait = compute_backoff(
                child.failures, base=self._backoff.base, cap=self._backoff.cap, jitter=self._backoff.jitter
            )
            child.due_at = time.monotonic() + wait
            self._report(f"could not start {child.spec.name} ({exc}); trying again in {wait:.1f} s")

    def _check(self, child: _Child, now: float) -> None:
        if child.final:
            return
        if child.due_at is not None:
            if now >= child.due_at and not self._stopping.is_set():
                child.restarts += 1
                self._start_or_retry(child)
            return
        if child.proc is None:
            return
        code = child.proc.poll()
        if code is None:
            return
        ran = now - child.started_at
        if code in FINAL_CODES:
            child.final = True
            self._report(
                f"{child.spec.name} exited with code {code} ({FINAL_CODES[code]}); not restarting it: "
                f"see its {'log ' + child.spec.log_path if child.spec.log_path else 'lines above'}"
            )
            return
        child.failures = 1 if ran >= self._stable_after_s else child.failures + 1
        wait = compute_backoff(
            child.failures, base=self._backoff.base, cap=self._backoff.cap, jitter=self._backoff.jitter
        )
        child.due_at = now + wait
        self._report(
            f"{child.spec.name} (pid {child.proc.pid}) died with {_exit_text(code)} after {ran:.1f} s; "
            f"restarting it in {wait:.1f} s"
        )

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        env = {**os.environ, **spec.env}
        out: IO[bytes] | int
        if spec.log_path:
            out = open(spec.log_path, "ab")
        else:
            out = subprocess.PIPE
            env.setdefault("PYTHONUNBUFFERED", "1")  # lines as they come, not in pipe-sized blocks
        try:
            proc = subprocess.Popen(
                spec.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=die_with_parent(os.getpid()),
            )
        finally:
            if not isinstance(out, int):
                out.close()  # the log file: the child has its own descriptor
        child.proc, child.started_at, child.due_at = proc, time.monotonic(), None
        if proc.stdout is not None:
            reader = threading.Thread(
                target=self._relay, args=(spec.name, proc.stdout), daemon=True, name=f"relay-{spec.name}"
            )
            reader.start()
            self._readers.append(reader)
        if child.restarts:
            self._report(f"{spec.name} restarted (pid {proc.pid}, restart {child.restarts})")

    def _relay(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self._write(name, raw.decode(errors="replace"))
        stream.close()

    def _write(self, name: str, line: str) -> None:
        with self._lock:
            self._out.write(f"{name:<{self._width}} | {line if line.endswith(chr(10)) else line + chr(10)}")
            self._out.flush()


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def herald_child(name: str, env: dict[str, str] | None = None, log_path: str | None = None) -> ChildSpec:
    """``herald run NAME`` as a child (``python -m cli.main``: the same interpreter and environment)."""
    return ChildSpec(name, [sys.executable, "-m", "cli.main", "run", name], env or {}, log_path)


def run_all(console, names: list[str]) -> int:
    """``herald run all``: refuses to start when a port is taken (naming its holder), else supervises
    ``herald run NAME`` for each of ``names`` until SIGINT/SIGTERM; 0 after a clean stop."""
    from cli.processes import ports_taken

    taken = ports_taken(names)
    for line in taken:
        console.print(f"[red]{line}[/red]", soft_wrap=True)
    if taken:
        return 1
    return Supervisor([herald_child(name) for name in names]).run()
