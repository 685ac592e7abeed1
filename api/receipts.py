"""Receipts of the bell, pure: the window a summary covers and the time a user took to open a push.

Time to open counts from FCM's first acceptance of the notification's push (``pushed_at``), or from the
notification's creation when it was never pushed (a digest's rows, a user without devices, push off):
what the user could have reacted to, not when the event happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=92)  # a quarter: bounded work for one request


@dataclass(frozen=True, slots=True)
class Window:
    """Notifications created in ``[since, until)``."""

    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: datetime | None, until: datetime | None, *, now: datetime) -> Window:
        """Defaults: until = now, since = until - 7 days. A window longer than MAX_WINDOW starts
        MAX_WINDOW before its end (the summary states the window it covers); a reversed one is empty.
        Neither is refused: the OpenAPI document cannot state a rule between two parameters."""
        end = until or now
        start = max(since or end - DEFAULT_WINDOW, end - MAX_WINDOW)
        return cls(start, end)


def open_seconds(*, opened_at: datetime, pushed_at: datetime | None, created_at: datetime) -> float:
    """From the push's acceptance (else the notification's creation) to the open; 0 when a clock ran
    ahead (the API's and the push sender's clocks are different machines')."""
    return max((opened_at - (pushed_at or created_at)).total_seconds(), 0.0)
