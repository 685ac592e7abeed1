"""Running a periodic job (scheduler, reconciler) until SIGTERM, with metrics and health served."""
from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Callable

from streams.app import configure_logging, tune_gc
from streams.health import database_answers, heartbeat_within, serve_process

log = logging.getLogger("herald.periodic")


class Beat:
    """The job's heartbeat: the loop calls ``beat()`` each tick; /healthz reads ``last``."""

    def __init__(self) -> None:
        self.last: float | None = None

    def beat(self) -> None:
        self.last = time.monotonic()


def tick_until_stopped(tick: Callable[[], bool], interval_s: float, stop: threading.Event, beat: Beat,
                       name: str) -> None:
    """Calls ``tick()`` every ``interval_s`` until ``stop``; a tick returning True (more work waiting) runs
    again at once; a tick that raises is logged and tried again next time."""
    while not stop.is_set():
        beat.beat()
        try:
            if tick():
                continue
        except Exception:
            log.exception("%s tick failed; retrying in %.1fs", name, interval_s)
        stop.wait(interval_s)


def run_periodic(process: str, settings, tick: Callable[[], bool], interval_s: float, engine=None) -> None:
    """Runs ``tick`` periodically until SIGTERM/SIGINT (the current tick finishes first).
    Live while ticks keep coming (within max(liveness timeout, 3 intervals)); ready while the database answers."""
    configure_logging()
    beat = Beat()
    silence = max(settings.liveness_timeout_s, 3 * interval_s)
    serve_process(process, settings.metrics_port, live={"loop": heartbeat_within(lambda: beat.last, silence)},
                  ready={"database": database_answers(engine)} if engine is not None else {})
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    tune_gc(settings)
    tick_until_stopped(tick, interval_s, stop, beat, process)
