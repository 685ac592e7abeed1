"""One fault under steady load, measured: what a test module runs (``HERALD_FAULT_REPS`` times) and asserts on.

The sequence: the load starts; once 10 s of it went through, the largest lag each consumer group shows
over 5 s is its steady lag; the fault is injected and lifted (``inject``, the fault's own duration,
``restore``, which returns once the service answers again: "the return"); from the return on, each
process's recovery is watched (``watch_recovery``) and, in a thread, the probe of the test (first push
delivered, lag exporter correct again); 10 s more load after every process is back; the load stops and
the pipeline drains; then the audit. A step that times out is recorded in ``errors`` instead of ending
the run, so the audit still says what was lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cli.processes import wait_until
from tests.faults.pipeline import INPUT, Audit, FaultPipeline, audit, watch_recovery

REPORT: list[str] = []  # every [fault] line of the session, repeated in pytest's terminal summary
RATE = 150.0  # events/s: well within what the two cores carry with every process, the broker and Postgres
RECOVERY_LIMIT_S = 60.0


@dataclass
class FaultRun:
    fault: str
    rep: int
    down_s: float = 0.0
    steady: dict[str, int] = field(default_factory=dict)
    recovery_s: dict[str, float | None] = field(default_factory=dict)
    probe_s: float | None = None  # the test's own probe: seconds from the return until it held
    probe_detail: str = ""
    audit: Audit | None = None
    restarts: dict[str, int] = field(default_factory=dict)
    not_running: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def line(self, probe_name: str | None = None) -> str:
        rec = ", ".join(f"{n} {'never' if s is None else f'{s:.1f}s'}" for n, s in self.recovery_s.items())
        probe = ""
        if probe_name:
            probe = f"{probe_name} {'never' if self.probe_s is None else f'{self.probe_s:.1f}s'}"
            probe += f" ({self.probe_detail}); " if self.probe_detail else "; "
        return (
            f"[fault] {self.fault} rep {self.rep}: down {self.down_s:.1f}s; recovery after the return: {rec}; "
            f"{probe}"
            f"{self.audit.line() if self.audit else 'no audit'}; supervisor restarts {self.restarts}; "
            f"not running {self.not_running or 'none'}; errors {self.errors or 'none'}"
        )


def report(line: str) -> None:
    """Prints a figures line (seen with ``pytest -s``) and keeps it for the terminal summary (seen always)."""
    print("\n" + line, flush=True)
    REPORT.append(line)


def run_fault(
    pipeline: FaultPipeline,
    fault: str,
    rep: int,
    inject: Callable[[], None],
    restore: Callable[[], None],
    duration_s: float,
    probe: Callable[[float], tuple[bool, str]] | None = None,
    probe_timeout_s: float = 60.0,
    rate: float = RATE,
) -> FaultRun:
    """``probe(back_at)`` is called every 0.25 s from the return on (in a thread) until it returns
    (True, detail) or ``probe_timeout_s`` passes."""
    run = FaultRun(fault, rep)
    pipeline.fcm.reset()  # the emulator's record of accepted pushes starts with this run
    load = pipeline.load(rate)
    try:
        wait_until(lambda: len(load.published) >= rate * 10, 60, what="10 s of load")
        run.steady = pipeline.steady_lag()
        limits = {name: max(2 * worst, int(rate * 2)) for name, worst in run.steady.items()}
        down_at = time.monotonic()
        inject()
        time.sleep(duration_s)  # the fault's own duration: the one sleep of the suite
        restore()
        back_at = time.monotonic()
        run.down_s = back_at - down_at
        prober = _start_probe(run, probe, back_at, probe_timeout_s) if probe else None
        run.recovery_s = watch_recovery(pipeline, back_at, limits, timeout=RECOVERY_LIMIT_S + 30)
        if prober:
            prober.join(probe_timeout_s + 30)
        more = len(load.published) + rate * 10
        wait_until(lambda: len(load.published) >= more, 60, interval=0.5, what="10 s of load after the recovery")
    except Exception as exc:  # noqa: BLE001 - recorded; the audit below still runs
        run.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        unacknowledged = load.stop()
    settle(pipeline, run, load, unacknowledged)
    return run


def settle(pipeline: FaultPipeline, run: FaultRun, load, unacknowledged) -> None:
    """After the load stopped: waits for the pipeline to drain (a timeout is recorded with each group's
    lag, not raised), then audits what arrived and records restarts and processes not running."""
    try:
        wait_until(
            lambda: quietly(pipeline.drained),
            300,
            interval=1.0,
            what="the pipeline to drain (every group caught up, no push retry waiting)",
        )
    except TimeoutError as exc:
        run.errors.append(f"{exc}; lag then: " + ", ".join(f"{n} {_safe_lag(pipeline, n)}" for n in INPUT))
    run.audit = audit(pipeline, load, unacknowledged)
    run.restarts = pipeline.restarts()
    run.not_running = pipeline.not_running()


def quietly(condition) -> bool:
    """A condition that raises (a client call during the fault's aftermath) counts as not yet true."""
    try:
        return bool(condition())
    except Exception:  # noqa: BLE001
        return False


def _safe_lag(pipeline: FaultPipeline, name: str) -> str:
    try:
        return str(pipeline.lag(name))
    except Exception as exc:  # noqa: BLE001
        return f"unknown ({exc})"


def _start_probe(run: FaultRun, probe, back_at: float, timeout: float) -> threading.Thread:
    def watch() -> None:
        detail = ""
        while time.monotonic() - back_at < timeout:
            try:
                ok, detail = probe(back_at)
            except Exception as exc:  # noqa: BLE001 - the service just came back; try again
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            if ok:
                run.probe_s = time.monotonic() - back_at
                run.probe_detail = detail
                return
            time.sleep(0.25)
        run.probe_detail = f"last: {detail}"

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def assert_nothing_lost_or_doubled(runs: list[FaultRun]) -> None:
    """Every published event acknowledged and stored once, every notifying event fanned out."""
    for run in runs:
        a = run.audit
        assert (a.unacknowledged, a.events_lost, a.duplicate_rows, a.fanout_lost) == (0, 0, 0, 0), run.line()


def assert_no_push_lost(runs: list[FaultRun]) -> None:
    """Every push the fan-out decided delivered (none lost, none still pending)."""
    for run in runs:
        assert run.audit.pushes_expected > 0, run.line()
        assert (run.audit.pushes_lost, run.audit.pushes_pending) == (0, 0), run.line()


def assert_back_to_steady(runs: list[FaultRun]) -> None:
    """Every process back to its steady lag within RECOVERY_LIMIT_S of the service's return, by itself."""
    for run in runs:
        late = {n: s for n, s in run.recovery_s.items() if s is None or s > RECOVERY_LIMIT_S}
        assert not late and not run.not_running and not run.errors, run.line()
