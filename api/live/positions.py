"""Event ids and the change cursor, without I/O.

A change is a ``live_changes`` row, ordered by (xid, seq): the writing transaction's id, then the row's
insert number. The API reads changes only in windows [lo, hi) where hi is the oldest transaction still
running (``pg_snapshot_xmin``): every transaction below hi has finished, so no row can later appear
below it, and each committed row falls into exactly one window, whatever order transactions commit in
(decision 0200). A ``Position`` is therefore a complete description of what a client has seen: every
change at or before it, none after. ``Position(hi, 0)`` stands for "every change below hi"; seq starts
at 1, so it sorts before every row of transaction hi.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """(xid, seq) of the last change a client received; the SSE ``id`` of every event."""

    xid: int
    seq: int = 0

    def encode(self) -> str:
        return f"{self.xid}-{self.seq}"

    @classmethod
    def decode(cls, text: str | None) -> "Position | None":
        """None for a missing or malformed id (the stream then answers with a reset)."""
        match = _ID.fullmatch(text.strip()) if text else None
        return cls(int(match[1]), int(match[2])) if match else None


class Verdict(Enum):
    """What a stream does with the client's Last-Event-ID."""

    RESUME = "resume"  # replay the changes after it
    EXPIRED = "expired"  # older than the replay window: its changes may be pruned
    UNKNOWN = "unknown"  # malformed, or a position this database has not reached


def judge(last_event_id: str | None, *, horizon: int, watermark: int) -> tuple[Verdict, Position | None]:
    """``horizon``: changes of transactions below it were pruned; ``watermark``: the current window's
    upper bound. A position no older than the horizon and not past the watermark resumes."""
    position = Position.decode(last_event_id)
    if position is None or position > Position(watermark):
        return Verdict.UNKNOWN, None
    if position.xid < horizon:
        return Verdict.EXPIRED, None
    return Verdict.RESUME, position


def is_new(position: Position, seen: Position) -> bool:
    """Whether a change at ``position`` is one a client that has seen up to ``seen`` still needs: the
    filter that makes replay and live windows overlap without repeats."""
    return position > seen
