"""Quiet hours (release_at, in_quiet_hours).

Every expected instant is written in UTC and was worked out by hand:
America/New_York is UTC-5 (EST) / UTC-4 (EDT). 2026-03-08 02:00 EST jumps to 03:00 EDT at 07:00Z, so
02:00-02:59 does not exist. 2026-11-01 02:00 EDT falls back to 01:00 EST at 06:00Z, so 01:00-01:59
happens twice: 01:xx EDT = 05:xxZ, then 01:xx EST = 06:xxZ. Asia/Kolkata is UTC+5:30 all year.
"""

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from processors.notifications.preferences import Preferences
from processors.notifications.quiet_hours import in_quiet_hours, release_at

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def z(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def quiet(start: str | None, end: str | None, tz: str | None = None) -> Preferences:
    as_time = lambda s: time.fromisoformat(s) if s else None  # noqa: E731
    return Preferences(quiet_hours_start=as_time(start), quiet_hours_end=as_time(end), timezone=tz)


NIGHT_UTC = quiet("22:00", "07:00")
NIGHT_NY = quiet("22:00", "07:00", "America/New_York")
NIGHT_KOLKATA = quiet("22:00", "07:00", "Asia/Kolkata")

CASES = [
    # UTC default (timezone None), window crossing midnight
    pytest.param(NIGHT_UTC, z(2026, 1, 15, 23, 0), z(2026, 1, 16, 7, 0), id="utc-default-before-midnight"),
    pytest.param(NIGHT_UTC, z(2026, 1, 16, 3, 0), z(2026, 1, 16, 7, 0), id="utc-default-after-midnight"),
    pytest.param(NIGHT_UTC, z(2026, 1, 15, 22, 0), z(2026, 1, 16, 7, 0), id="utc-start-inclusive"),
    pytest.param(NIGHT_UTC, z(2026, 1, 16, 7, 0), None, id="utc-end-exclusive"),
    pytest.param(NIGHT_UTC, z(2026, 1, 15, 12, 0), None, id="utc-outside-midday"),
    pytest.param(NIGHT_UTC, z(2026, 1, 15, 21, 59, 59), None, id="utc-one-second-before"),
    # a window inside one day
    pytest.param(quiet("13:00", "14:00"), z(2026, 1, 15, 13, 30), z(2026, 1, 15, 14, 0), id="same-day-inside"),
    pytest.param(quiet("13:00", "14:00"), z(2026, 1, 15, 14, 0), None, id="same-day-at-end"),
    pytest.param(quiet("13:00", "14:00"), z(2026, 1, 15, 12, 59), None, id="same-day-before"),
    # off
    pytest.param(quiet("22:00", "22:00"), z(2026, 1, 15, 22, 0), None, id="start-equals-end-is-off"),
    pytest.param(quiet("00:00", "00:00", "America/New_York"), z(2026, 1, 15, 12, 0), None, id="midnight-equal-off"),
    pytest.param(quiet(None, "07:00"), z(2026, 1, 16, 3, 0), None, id="no-start"),
    pytest.param(quiet("22:00", None), z(2026, 1, 15, 23, 0), None, id="no-end"),
    pytest.param(Preferences(), z(2026, 1, 15, 23, 0), None, id="defaults-off"),
    # New York, ordinary nights; now given in UTC, in New York time, and in a third zone
    pytest.param(NIGHT_NY, z(2026, 1, 16, 3, 0), z(2026, 1, 16, 12, 0), id="ny-winter-start"),
    pytest.param(NIGHT_NY, z(2026, 1, 16, 2, 59), None, id="ny-winter-before-start"),
    pytest.param(NIGHT_NY, z(2026, 1, 16, 11, 59), z(2026, 1, 16, 12, 0), id="ny-winter-last-minute"),
    pytest.param(NIGHT_NY, z(2026, 1, 15, 23, 0), None, id="ny-utc-night-is-ny-evening"),
    pytest.param(NIGHT_NY, datetime(2026, 1, 15, 22, 30, tzinfo=NY), z(2026, 1, 16, 12, 0), id="ny-now-in-ny"),
    pytest.param(NIGHT_NY, datetime(2026, 1, 16, 9, 0, tzinfo=KOLKATA), z(2026, 1, 16, 12, 0), id="ny-now-in-kolkata"),
    pytest.param(NIGHT_NY, z(2026, 7, 1, 3, 0), z(2026, 7, 1, 11, 0), id="ny-summer"),
    # New York spring forward, 2026-03-08
    pytest.param(NIGHT_NY, z(2026, 3, 8, 4, 0), z(2026, 3, 8, 11, 0), id="spring-window-spans-change"),
    pytest.param(
        quiet("22:00", "02:30", "America/New_York"), z(2026, 3, 8, 6, 0), z(2026, 3, 8, 7, 0), id="spring-end-in-gap"
    ),
    pytest.param(
        quiet("22:00", "02:30", "America/New_York"),
        z(2026, 3, 8, 6, 59, 59),
        z(2026, 3, 8, 7, 0),
        id="spring-end-in-gap-last-second",
    ),
    pytest.param(quiet("22:00", "02:30", "America/New_York"), z(2026, 3, 8, 7, 0), None, id="spring-end-in-gap-after"),
    pytest.param(
        quiet("22:00", "02:00", "America/New_York"),
        z(2026, 3, 8, 6, 30),
        z(2026, 3, 8, 7, 0),
        id="spring-end-at-gap-start",
    ),
    pytest.param(
        quiet("22:00", "03:00", "America/New_York"),
        z(2026, 3, 8, 6, 30),
        z(2026, 3, 8, 7, 0),
        id="spring-end-at-gap-end",
    ),
    pytest.param(
        quiet("02:30", "06:00", "America/New_York"), z(2026, 3, 8, 6, 30), None, id="spring-start-in-gap-before"
    ),
    pytest.param(
        quiet("02:30", "06:00", "America/New_York"),
        z(2026, 3, 8, 7, 0),
        z(2026, 3, 8, 10, 0),
        id="spring-start-in-gap-opens-at-transition",
    ),
    pytest.param(
        quiet("02:30", "06:00", "America/New_York"),
        z(2026, 3, 9, 7, 30),
        z(2026, 3, 9, 10, 0),
        id="spring-next-night-normal",
    ),
    # New York fall back, 2026-11-01
    pytest.param(NIGHT_NY, z(2026, 11, 1, 3, 0), z(2026, 11, 1, 12, 0), id="fall-window-spans-change"),
    pytest.param(
        quiet("22:00", "01:30", "America/New_York"), z(2026, 11, 1, 4, 30), z(2026, 11, 1, 5, 30), id="fall-end-in-fold"
    ),
    pytest.param(
        quiet("22:00", "01:30", "America/New_York"),
        z(2026, 11, 1, 5, 15),
        z(2026, 11, 1, 5, 30),
        id="fall-end-in-fold-first-pass",
    ),
    pytest.param(
        quiet("22:00", "01:30", "America/New_York"), z(2026, 11, 1, 5, 45), None, id="fall-end-in-fold-after-first-end"
    ),
    pytest.param(
        quiet("22:00", "01:30", "America/New_York"),
        z(2026, 11, 1, 6, 15),
        None,
        id="fall-end-in-fold-second-pass-stays-closed",
    ),
    pytest.param(
        quiet("01:30", "06:00", "America/New_York"), z(2026, 11, 1, 5, 20), None, id="fall-start-in-fold-before"
    ),
    pytest.param(
        quiet("01:30", "06:00", "America/New_York"),
        z(2026, 11, 1, 5, 30),
        z(2026, 11, 1, 11, 0),
        id="fall-start-in-fold-first-occurrence",
    ),
    pytest.param(
        quiet("01:30", "06:00", "America/New_York"),
        z(2026, 11, 1, 6, 10),
        z(2026, 11, 1, 11, 0),
        id="fall-start-in-fold-second-pass-inside",
    ),
    # Asia/Kolkata, half-hour offset
    pytest.param(NIGHT_KOLKATA, z(2026, 1, 15, 16, 30), z(2026, 1, 16, 1, 30), id="kolkata-start"),
    pytest.param(NIGHT_KOLKATA, z(2026, 1, 15, 16, 29), None, id="kolkata-before-start"),
    pytest.param(NIGHT_KOLKATA, z(2026, 1, 16, 1, 29), z(2026, 1, 16, 1, 30), id="kolkata-last-minute"),
    pytest.param(NIGHT_KOLKATA, z(2026, 1, 16, 1, 30), None, id="kolkata-end"),
    pytest.param(
        quiet("12:30", "13:15", "Asia/Kolkata"),
        z(2026, 1, 15, 7, 0),
        z(2026, 1, 15, 7, 45),
        id="kolkata-half-hour-window",
    ),
    # an unknown zone falls back to UTC rather than failing the batch
    pytest.param(
        quiet("22:00", "07:00", "Mars/Olympus_Mons"),
        z(2026, 1, 15, 23, 0),
        z(2026, 1, 16, 7, 0),
        id="unknown-zone-is-utc",
    ),
]


@pytest.mark.parametrize("prefs, now, expected", CASES)
def test_release_at(prefs, now, expected):
    released = release_at(now, prefs)
    assert released == expected
    if released is not None:
        assert released.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("prefs, now, expected", CASES)
def test_in_quiet_hours(prefs, now, expected):
    assert in_quiet_hours(now, prefs) is (expected is not None)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="time-zone aware"):
        release_at(datetime(2026, 1, 15, 23, 0), NIGHT_UTC)
