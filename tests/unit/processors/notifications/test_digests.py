"""Held pushes: which are due (due), still wanted (still_wanted), the digest's text (digest_text), and
their release: one digest per user with what is still wanted, the rest dropped (release)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from processors.notifications.digests import Held, digest_text, due, release, still_wanted
from processors.notifications.directory import Directory, DirectoryUser
from processors.notifications.ids import digest_id
from processors.notifications.preferences import Preferences
from streams.messages import Priority

NOW = datetime(2026, 6, 1, 7, 0, tzinfo=timezone.utc)
WANTS = Preferences(min_push_priority=Priority.LOW)


def held(user: str, *, reason="care_team", patient="p1", event_type="LAB_RESULT_RECEIVED", n=0) -> Held:
    return Held(uuid.UUID(int=n + 1), user, event_type, Priority.NORMAL, NOW - timedelta(minutes=1), reason, patient)


def run(groups, directory, prefs):
    rows = [h for hs in groups.values() for h in hs]
    return release(
        groups,
        directory,
        prefs,
        {h.notification_id: "org" for h in rows},
        {h.notification_id: NOW - timedelta(hours=8) for h in rows},
        NOW,
    )


def test_one_digest_per_user_counting_only_what_is_still_wanted():
    directory = Directory.of([DirectoryUser("a", "org"), DirectoryUser("b", "org", active=False)], [("p1", "a")])
    groups = {"a": [held("a", n=1), held("a", n=2), held("a", patient="p2", n=3)], "b": [held("b", n=4)]}

    out = run(groups, directory, {"a": WANTS, "b": WANTS})

    (digest,) = out.digests
    assert (digest.user_id, digest.kind, digest.digest_count) == ("a", "digest", 2)  # left p2's care team
    assert sorted(out.dropped) == [uuid.UUID(int=4), uuid.UUID(int=5)]
    assert sorted(out.released) == [uuid.UUID(int=2), uuid.UUID(int=3)]


def test_a_user_who_turned_push_off_gets_no_digest():
    directory = Directory.of([DirectoryUser("a", "org")], [("p1", "a")])
    out = run({"a": [held("a")]}, directory, {"a": Preferences(push_enabled=False)})
    assert out.digests == [] and len(out.dropped) == 1


def test_the_digest_id_is_the_same_for_the_same_set_in_any_order():
    a, b = held("a", n=1), held("a", n=2)
    assert digest_id("a", [a, b]) == digest_id("a", [b, a]) != digest_id("a", [a])


# --- due, still_wanted, digest_text ------------------------------------------------------------------


def z(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _held(
    n: int,
    user_id: str,
    release: datetime,
    event_type="LAB_RESULT_RECEIVED",
    priority=Priority.NORMAL,
    reason="care_team",
    patient_id="p-1",
) -> Held:
    return Held(uuid.UUID(int=n), user_id, event_type, priority, release, reason, patient_id)


H1 = _held(1, "bob", z(2026, 1, 16, 12, 0))
H2 = _held(2, "amy", z(2026, 1, 16, 7, 0))
H3 = _held(3, "amy", z(2026, 1, 16, 6, 0))
H4 = _held(4, "cat", z(2026, 1, 16, 7, 0, 1))
H5 = _held(5, "amy", z(2026, 1, 16, 6, 0))


@pytest.mark.parametrize(
    "now, expected",
    [
        pytest.param(z(2026, 1, 16, 5, 59), {}, id="nothing-due"),
        pytest.param(z(2026, 1, 16, 6, 0), {"amy": [H3, H5]}, id="release-at-equals-now"),
        pytest.param(z(2026, 1, 16, 7, 0), {"amy": [H3, H5, H2]}, id="grouped-and-ordered"),
        pytest.param(z(2026, 1, 16, 12, 0), {"amy": [H3, H5, H2], "bob": [H1], "cat": [H4]}, id="all-due"),
    ],
)
def test_due(now, expected):
    assert due(now, [H1, H2, H3, H4, H5]) == expected


DIRECTORY = Directory.of(
    users=[DirectoryUser("amy", "org-1"), DirectoryUser("bob", "org-1", active=False), DirectoryUser("dan", "org-1")],
    care_team=[("p-1", "amy"), ("p-1", "bob")],
)


@pytest.mark.parametrize(
    "held, prefs, expected",
    [
        pytest.param(
            _held(1, "amy", z(2026, 1, 16)), Preferences(min_push_priority=Priority.NORMAL), True, id="still-wanted"
        ),
        pytest.param(
            _held(1, "bob", z(2026, 1, 16)), Preferences(min_push_priority=Priority.NORMAL), False, id="user-inactive"
        ),
        pytest.param(
            _held(1, "eve", z(2026, 1, 16)), Preferences(min_push_priority=Priority.NORMAL), False, id="user-gone"
        ),
        pytest.param(
            _held(1, "dan", z(2026, 1, 16)), Preferences(min_push_priority=Priority.NORMAL), False, id="left-care-team"
        ),
        pytest.param(
            _held(1, "dan", z(2026, 1, 16), event_type="APPOINTMENT_SCHEDULED", reason="practitioner"),
            Preferences(min_push_priority=Priority.NORMAL),
            True,
            id="practitioner-needs-no-team",
        ),
        pytest.param(
            _held(1, "amy", z(2026, 1, 16)),
            Preferences(push_enabled=False, min_push_priority=Priority.NORMAL),
            False,
            id="push-turned-off",
        ),
        pytest.param(
            _held(1, "amy", z(2026, 1, 16)),
            Preferences(enabled_types=frozenset({"ANNOUNCEMENT"}), min_push_priority=Priority.NORMAL),
            False,
            id="type-turned-off",
        ),
        pytest.param(
            _held(1, "amy", z(2026, 1, 16)), Preferences(min_push_priority=Priority.HIGH), False, id="minimum-raised"
        ),
    ],
)
def test_still_wanted(held, prefs, expected):
    assert still_wanted(held, DIRECTORY, prefs) is expected


@pytest.mark.parametrize(
    "count, expected",
    [
        pytest.param(1, ("1 update", "1 update while quiet hours were on"), id="singular"),
        pytest.param(2, ("2 updates", "2 updates while quiet hours were on"), id="plural"),
        pytest.param(3, ("3 updates", "3 updates while quiet hours were on"), id="three"),
    ],
)
def test_digest_text(count, expected):
    assert digest_text(count) == expected


def test_empty_digest_is_refused():
    with pytest.raises(ValueError):
        digest_text(0)
