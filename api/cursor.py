"""Opaque keyset cursors: the (time, id) of the last row of a page, newest-first order.

Format (not a contract; clients pass it back untouched): base64url, unpadded, of
``1.<microseconds since the epoch>.<uuid hex>``. A cursor is only a position: every filter and every
access rule is applied again on the next page, so a forged cursor can move within what the caller may
see and nothing more, and no signature is needed.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_VERSION = "1"


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
    raw = f"{_VERSION}.{micros}.{row_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> Position:
    """Called with a client's cursor; InvalidCursor (a 422) when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, micros, hex_id = raw.split(".")
        if version != _VERSION:
            raise ValueError(version)
        return Position(_EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id))
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise InvalidCursor("not a cursor returned by this API") from None
