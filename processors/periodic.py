"""Running a periodic job (scheduler, reconciler) until SIGTERM, with metrics and health served."""
from __future__ import annotations

import signal
import threading
import time
from typing import Callable

from streams.app import configure_logging
from streams.health import database_answers, heartbeat_within, serve_process


class Beat:
    """The job's heartbeat: the loop calls ``beat()`` each tick; /healthz reads ``last``."""

    def __init__(self) -> None:
        self.last: float | None = None

    def beat(self) -> None:
        self.last = time.monotonic()


def run_periodic(process: str, settings, loop: Callable[[float, threading.Event, Beat], None], interval_s: float,
                 engine=None) -> None:
    """Calls ``loop(interval_s, stop, beat)``; SIGTERM/SIGINT set ``stop`` and the loop returns after its tick.
    Live while ticks keep coming (within max(liveness timeout, 3 intervals)); ready while the database answers."""
    configure_logging()
    beat = Beat()
    silence = max(settings.liveness_timeout_s, 3 * interval_s)
    serve_process(process, settings.metrics_port, live={"loop": heartbeat_within(lambda: beat.last, silence)},
                  ready={"database": database_answers(engine)} if engine is not None else {})
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    loop(interval_s, stop, beat)
