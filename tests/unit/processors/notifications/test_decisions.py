"""decide(): bell row, push now, push held for quiet hours, or no push, for one recipient.

Quiet hours below are 22:00-07:00 America/New_York (EST = UTC-5 in January): 2026-01-16 03:00Z is
22:00 EST, inside, and the window ends 2026-01-16 07:00 EST = 12:00Z. 2026-01-15 17:00Z is noon EST.
"""

import uuid
from datetime import datetime, time, timezone

import pytest

from processors.catalogue import DEFAULT_ENABLED_TYPES
from processors.notifications.decisions import Decision, PushAction, decide
from processors.notifications.preferences import Preferences, default_preferences
from processors.notifications.recipients import Recipient
from streams.messages import ActivityEvent, Priority

UTC = timezone.utc
NIGHT = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)
NOON = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)
NIGHT_ENDS = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)

NONE, NOW, HOLD = PushAction.NONE, PushAction.NOW, PushAction.HOLD
L, N, H, U = Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT
RECIPIENT = Recipient("nurse-b", "care_team")


def prefs(**overrides) -> Preferences:
    """Quiet hours on in New York; everything else as given."""
    base = dict(quiet_hours_start=time(22, 0), quiet_hours_end=time(7, 0), timezone="America/New_York")
    return Preferences(**(base | overrides))


def _event(event_type: str, priority: Priority | None = None) -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.UUID(int=3),
        event_type=event_type,
        title="t",
        organization_id="org-1",
        occurred_at=NOON,
        priority=priority,
        notify=True,
    )


@pytest.mark.parametrize(
    "event, preferences, now, expected",
    [
        # ANNOUNCEMENT_URGENT: only push_enabled counts
        pytest.param(
            _event("ANNOUNCEMENT_URGENT"),
            prefs(push_enabled=False),
            NIGHT,
            Decision(True, NONE),
            id="urgent-announcement-push-off",
        ),
        pytest.param(
            _event("ANNOUNCEMENT_URGENT"),
            prefs(enabled_types=frozenset()),
            NOON,
            Decision(True, NOW),
            id="urgent-announcement-type-disabled",
        ),
        pytest.param(
            _event("ANNOUNCEMENT_URGENT"), prefs(), NIGHT, Decision(True, NOW), id="urgent-announcement-quiet-hours"
        ),
        pytest.param(
            _event("ANNOUNCEMENT_URGENT", L),
            prefs(enabled_types=frozenset(), min_push_priority=U),
            NIGHT,
            Decision(True, NOW),
            id="urgent-announcement-low-priority-all-off-but-push",
        ),
        # quiet hours
        pytest.param(
            _event("LAB_RESULT_RECEIVED"),
            prefs(min_push_priority=N),
            NIGHT,
            Decision(True, HOLD, NIGHT_ENDS),
            id="normal-quiet-hold",
        ),
        pytest.param(
            _event("DOCUMENT_UPLOADED"),
            prefs(min_push_priority=L, enabled_types=frozenset({"DOCUMENT_UPLOADED"})),
            NIGHT,
            Decision(True, HOLD, NIGHT_ENDS),
            id="low-quiet-hold",
        ),
        pytest.param(
            _event("LAB_RESULT_RECEIVED", H),
            prefs(min_push_priority=N),
            NIGHT,
            Decision(True, NOW),
            id="high-quiet-now",
        ),
        pytest.param(_event("LAB_RESULT_CRITICAL"), prefs(), NIGHT, Decision(True, NOW), id="urgent-quiet-now"),
        pytest.param(
            _event("LAB_RESULT_RECEIVED"),
            prefs(min_push_priority=N),
            NOON,
            Decision(True, NOW),
            id="normal-outside-quiet-now",
        ),
        pytest.param(
            _event("LAB_RESULT_RECEIVED", L),
            prefs(min_push_priority=N),
            NIGHT,
            Decision(True, NONE),
            id="low-under-minimum-never-held",
        ),
        # default preferences: push for HIGH and URGENT only
        pytest.param(
            _event("LAB_RESULT_RECEIVED"),
            default_preferences(),
            NOON,
            Decision(True, NONE),
            id="default-normal-bell-only",
        ),
        pytest.param(
            _event("APPOINTMENT_SCHEDULED"),
            default_preferences(),
            NOON,
            Decision(True, NONE),
            id="default-appointment-bell-only",
        ),
        pytest.param(
            _event("LAB_RESULT_CRITICAL"), default_preferences(), NOON, Decision(True, NOW), id="default-urgent-now"
        ),
        pytest.param(
            _event("LAB_RESULT_RECEIVED", H),
            default_preferences(),
            NOON,
            Decision(True, NOW),
            id="default-producer-raised-high-now",
        ),
        pytest.param(
            _event("DOCUMENT_UPLOADED"), default_preferences(), NOON, Decision(False, NONE), id="default-document-off"
        ),
        # user switches
        pytest.param(
            _event("LAB_RESULT_CRITICAL"),
            prefs(push_enabled=False),
            NOON,
            Decision(True, NONE),
            id="push-off-bell-stays",
        ),
        pytest.param(
            _event("LAB_RESULT_CRITICAL"),
            prefs(enabled_types=frozenset({"ANNOUNCEMENT"})),
            NOON,
            Decision(False, NONE),
            id="type-disabled-no-bell-no-push",
        ),
        pytest.param(
            _event("ANNOUNCEMENT"),
            prefs(enabled_types=frozenset()),
            NOON,
            Decision(False, NONE),
            id="plain-announcement-obeys-type",
        ),
        pytest.param(_event("ANNOUNCEMENT", U), prefs(), NIGHT, Decision(True, NOW), id="announcement-raised-urgent"),
    ],
)
def test_decide(event, preferences, now, expected):
    assert decide(event, RECIPIENT, preferences, now) == expected


def test_default_preferences():
    assert default_preferences() == Preferences(
        push_enabled=True,
        email_enabled=False,
        enabled_types=DEFAULT_ENABLED_TYPES,
        min_push_priority=H,
        quiet_hours_start=None,
        quiet_hours_end=None,
        timezone=None,
    )
    assert default_preferences("Europe/Paris").timezone == "Europe/Paris"
