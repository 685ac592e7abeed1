"""Reading stored notification preferences (no row = the user never set any)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Iterable

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class PreferencesRow:
    user_id: str
    push_enabled: bool
    email_enabled: bool
    enabled_types: tuple[str, ...]
    min_push_priority: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    timezone: str | None


def load_preferences(conn: Connection, user_ids: Iterable[str]) -> dict[str, PreferencesRow]:
    """Stored preferences of the given users, by user id; users without a row are absent."""
    rows = conn.execute(
        text(
            "SELECT user_id, push_enabled, email_enabled, enabled_types, min_push_priority, quiet_hours_start, "
            "quiet_hours_end, timezone FROM notification_preferences WHERE user_id = ANY(:ids)"
        ),
        {"ids": list(set(user_ids))},
    ).all()
    return {r[0]: PreferencesRow(r[0], r[1], r[2], tuple(r[3]), r[4], r[5], r[6], r[7]) for r in rows}
