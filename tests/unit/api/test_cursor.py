"""Opaque keyset cursors."""
from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone

import pytest

from api.cursor import InvalidCursor, Position, decode_cursor, encode_cursor

ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize("at", [
    datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc),
    datetime(1970, 1, 1, tzinfo=timezone.utc),
    datetime(1960, 5, 5, 1, 2, 3, 4, tzinfo=timezone.utc),
    datetime.fromisoformat("2026-03-29T02:30:00.000001+02:00"),
])
def test_round_trip_keeps_the_microsecond(at):
    assert decode_cursor(encode_cursor(at, ID)) == Position(at, ID)


def test_cursor_is_url_safe_and_opaque():
    cursor = encode_cursor(datetime(2026, 3, 1, tzinfo=timezone.utc), ID)
    assert cursor.isascii() and not set(cursor) & set("+/=&?# ")


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "", "!!!", "bm90LWEtY3Vyc29y", _b64("2.1.abc"), _b64(f"1.x.{ID.hex}"), _b64("1.5.not-a-uuid"),
    _b64(f"1.{10**20}.{ID.hex}"), _b64(f"1.5.{ID.hex}.extra"), base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_anything_else_is_invalid(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_naive_times_are_refused_when_encoding():
    with pytest.raises(ValueError):
        encode_cursor(datetime(2026, 3, 1), ID)
