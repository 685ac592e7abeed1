"""A user's notification preferences, and the defaults of a user who never saved any."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import time

from processors.catalogue import DEFAULT_ENABLED_TYPES
from streams.messages import Priority


@dataclass(frozen=True, slots=True)
class Preferences:
    """A user's notification preferences; the defaults are a new user's (see ``default_preferences``)."""

    push_enabled: bool = True
    email_enabled: bool = False
    enabled_types: frozenset[str] = DEFAULT_ENABLED_TYPES
    min_push_priority: Priority = Priority.HIGH
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    timezone: str | None = None


@functools.lru_cache(maxsize=1024)
def default_preferences(timezone: str | None = None) -> Preferences:
    """Used for a user with no stored preferences: push for HIGH and URGENT, common clinical types on,
    quiet hours off, in ``timezone`` (the directory's, when known). One shared value per zone."""
    return Preferences(timezone=timezone)
