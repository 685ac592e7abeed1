"""Keyset cursors: the (time, id) of the last row of a page, newest-first order.

Format (not a contract; clients pass it back untouched): ``<microseconds since the epoch>.<uuid hex>``,
e.g. ``1772366400000000.0f8e8a6c1d2b4e5f9a0b1c2d3e4f5a6b``. It is plain so that the OpenAPI document
can state it exactly (``CURSOR_PATTERN``): every string the pattern allows is a position this module
decodes, and nothing else is. A cursor is only a position: every filter and every access rule is
applied again on the next page, so a forged cursor can move within what the caller may see and
nothing more, and no signature is needed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# 17 digits after the epoch (to the year 5138), 16 before it (back to 1653): always a datetime.
CURSOR_PATTERN = r"^(-[0-9]{1,16}|[0-9]{1,17})[.][0-9a-f]{32}$"
_CURSOR = re.compile(r"(-[0-9]{1,16}|[0-9]{1,17})[.]([0-9a-f]{32})")


class InvalidCursor(ValueError):
    """A cursor that this API did not make (or that was truncated)."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the next page holds rows strictly older than (at, row_id)."""

    at: datetime
    row_id: uuid.UUID


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    """Called with the last row of a full page."""
    if at.tzinfo is None:
        raise ValueError("cursor time must be time-zone aware")
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{row_id.hex}"


def decode_cursor(cursor: str) -> Position:
    """Called with a client's cursor; InvalidCursor (a 422) when it is not one of ours."""
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise InvalidCursor("not a cursor returned by this API")
    return Position(_EPOCH + timedelta(microseconds=int(match[1])), uuid.UUID(hex=match[2]))
