"""The deadline SIGTERM gives a process: past it, the process exits at once.

A loop that finishes its batch before it stops can be stuck in a call to a broker or database that is
gone; an orchestrator would then SIGKILL it after its grace period, or wait forever where nobody does.
Nothing is lost by exiting: offsets are committed only after their batch's effects are durable.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("herald.shutdown")

EXIT_SHUTDOWN_TIMEOUT = 75  # SIGTERM's deadline passed before the process had closed


def arm_deadline(timeout_s: float) -> threading.Timer:
    """Called from a SIGTERM handler: exits the process with ``EXIT_SHUTDOWN_TIMEOUT`` in ``timeout_s``
    unless it has ended by then (a daemon timer does not keep it alive)."""
    timer = threading.Timer(timeout_s, _exit_late, (timeout_s,))
    timer.daemon = True
    timer.start()
    return timer


def _exit_late(timeout_s: float) -> None:
    log.error("shutdown did not finish within %.0fs; exiting now (exit %d)", timeout_s, EXIT_SHUTDOWN_TIMEOUT)
    logging.shutdown()
    os._exit(EXIT_SHUTDOWN_TIMEOUT)
