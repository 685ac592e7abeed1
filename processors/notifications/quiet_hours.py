"""Quiet hours: whether a moment falls in a user's window, and when that window ends.

A window is ``quiet_hours_start``-``quiet_hours_end`` in the user's IANA zone (UTC when unset or
unknown), may cross midnight, and is off when either bound is missing or start == end. Each night's
window is one contiguous interval of real time whose bounds are the wall times resolved on that
night's dates: a wall time in a spring-forward gap resolves to the first valid instant after the gap
(the transition itself); one in a fall-back fold resolves to its first occurrence (fold=0). So the
window never lasts longer than its wall-clock span plus the DST shift, and a second pass through a
fold does not reopen a window that already ended.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from processors.notifications.preferences import Preferences


def _zone(name: str | None) -> ZoneInfo:
    # An unknown zone must not crash-loop the fan-out on one bad row; the API validates on write.
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _transition(before: int, after: int, zone: ZoneInfo) -> int:
    """The first second at or after which ``zone`` uses the offset it has at ``after`` (binary search)."""
    offset_after = datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``wall`` on ``day`` in ``zone``: first occurrence in a fold, gap end in a gap."""
    first = datetime.combine(day, wall, zone).astimezone(timezone.utc)  # fold=0
    if first.astimezone(zone).replace(tzinfo=None) == datetime.combine(day, wall):
        return first
    # In a gap, fold=0 applies the offset in force before the transition and lands after the gap;
    # fold=1 applies the later offset and lands before it. The transition lies between the two.
    before = datetime.combine(day, wall, zone).replace(fold=1).astimezone(timezone.utc)
    return datetime.fromtimestamp(_transition(int(before.timestamp()), int(first.timestamp()), zone), timezone.utc)


def _window_containing(now: datetime, prefs: Preferences) -> tuple[datetime, datetime] | None:
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    start, end = prefs.quiet_hours_start, prefs.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    zone = _zone(prefs.timezone)
    today = now.astimezone(zone).date()
    for first_day in (today - timedelta(days=1), today):
        last_day = first_day + timedelta(days=1) if end < start else first_day
        opens, closes = _instant(first_day, start, zone), _instant(last_day, end, zone)
        if opens <= now < closes:
            return opens, closes
    return None


def release_at(now: datetime, prefs: Preferences) -> datetime | None:
    """Called when a LOW/NORMAL push is due: None outside quiet hours, else the UTC end of the window."""
    window = _window_containing(now, prefs)
    return window[1] if window else None


def in_quiet_hours(now: datetime, prefs: Preferences) -> bool:
    """Whether ``now`` falls inside the user's quiet-hours window."""
    return _window_containing(now, prefs) is not None
