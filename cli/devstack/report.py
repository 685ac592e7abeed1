"""What the stack reports: a `ServiceStatus` row per part, and progress lines on stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass
class ServiceStatus:
    """One row of `status()`: is the service answering, where, and its log."""

    name: str
    up: bool
    address: str
    log: str
    detail: str = ""


def _say(message: str) -> None:
    """Progress line on stderr, so stdout stays free for `status` output."""
    print(message, file=sys.stderr, flush=True)
