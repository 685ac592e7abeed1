"""Running a periodic job (scheduler, reconciler) until SIGTERM, with metrics and health served."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from streams.app import configure_logging, tune_gc
from streams.errors import reason_line
from streams.health import Check, Probe, database_answers, heartbeat_within, serve_process
from streams.settings import JobSettings
from streams.shutdown import arm_deadline

log = logging.getLogger("herald.periodic")


class Beat:
    """The job's heartbeat: the loop calls ``beat()`` each tick; /healthz reads ``last``, /readyz ``failing``."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.failing = 0  # ticks failed in a row
        self.last_failure = ""

    def beat(self) -> None:
        self.last = time.monotonic()

    def failed(self, exc: Exception) -> None:
        self.failing += 1
        self.last_failure = reason_line(exc)

    def succeeded(self) -> None:
        self.failing = 0


def ticks_succeed(beat: Beat, max_failed: int) -> Probe:
    """Ready unless the last ``max_failed`` ticks all failed (the job is doing nothing but retrying)."""

    def probe() -> Check:
        if beat.failing >= max_failed:
            return Check(False, f"{beat.failing} ticks failed in a row; last: {beat.last_failure}"[:300])
        return Check(True)

    return probe


def tick_until_stopped(
    tick: Callable[[], bool],
    interval_s: float,
    stop: threading.Event,
    beat: Beat,
    name: str,
    *,
    wait: Callable[[float], object] | None = None,
    retry_in: Callable[[int], float] | None = None,
) -> None:
    """Calls ``tick()`` every ``interval_s`` until ``stop``; a tick returning True (more work waiting) runs
    again at once; a tick that raises is logged and tried again next time.

    ``wait(interval_s)`` replaces the pause between ticks (default: ``stop.wait``); a job woken by something
    else than time (a LISTEN notification) returns from it early, and must return soon after ``stop`` is
    set. ``retry_in(failures in a row)`` is the pause after a failed tick (default: ``interval_s``)."""
    pause = wait or stop.wait
    while not stop.is_set():
        beat.beat()
        try:
            more = tick()
            beat.succeeded()
            if more:
                continue
        except Exception as exc:  # only the first line: a driver's later lines can quote rows
            beat.failed(exc)
            delay = retry_in(beat.failing) if retry_in else interval_s
            log.error("%s tick failed (%s: %s); retrying in %.1fs", name, type(exc).__name__, reason_line(exc), delay)
            stop.wait(delay)
            continue
        pause(interval_s)


def run_periodic(
    process: str,
    settings: JobSettings,
    tick: Callable[[], bool],
    interval_s: float,
    engine=None,
    *,
    default_port: int,
    ready: dict[str, Probe] | None = None,
    stop: threading.Event | None = None,
    wait: Callable[[float], object] | None = None,
    retry_in: Callable[[int], float] | None = None,
) -> None:
    """Runs ``tick`` periodically until SIGTERM/SIGINT (the current tick finishes first), serving
    /metrics on ``settings.metrics_port`` or else ``default_port`` (the process's, processors/registry.py).
    Live while ticks keep coming (within max(liveness timeout, 3 intervals)); ready while ticks succeed,
    the database answers and every probe of ``ready`` passes. ``stop`` (set on SIGTERM), ``wait`` and
    ``retry_in`` as ``tick_until_stopped`` takes them: a job woken by something else than time passes its
    own wait, built on the same ``stop``."""
    configure_logging()
    beat = Beat()
    silence = max(settings.liveness_timeout_s, 3 * interval_s)
    checks = {"ticks": ticks_succeed(beat, settings.ready_max_failed_batches)}
    if engine is not None:
        checks["database"] = database_answers(engine)
    serve_process(
        process,
        settings.metrics_port,
        default_port=default_port,
        live={"loop": heartbeat_within(lambda: beat.last, silence)},
        ready={**checks, **(ready or {})},
    )
    stop = stop or threading.Event()
    deadline: list[threading.Timer] = []

    def on_sigterm(*_) -> None:  # the tick in hand finishes, within the deadline (streams/shutdown.py)
        if not stop.is_set():
            deadline.append(arm_deadline(settings.shutdown_timeout_s))
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_sigterm)
    tune_gc(settings)
    tick_until_stopped(tick, interval_s, stop, beat, process, wait=wait, retry_in=retry_in)
    for timer in deadline:  # stopped in time: the deadline must not end whatever runs after (a test session)
        timer.cancel()
