"""Releasing held pushes: one digest per user with what is still wanted, the rest dropped."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from processors.fanout.rules import Directory, DirectoryUser, Held, Preferences
from processors.scheduler.rules import digest_id, release
from streams.messages import Priority

NOW = datetime(2026, 6, 1, 7, 0, tzinfo=timezone.utc)
WANTS = Preferences(min_push_priority=Priority.LOW)


def held(user: str, *, reason="care_team", patient="p1", event_type="LAB_RESULT_RECEIVED", n=0) -> Held:
    return Held(uuid.UUID(int=n + 1), user, event_type, Priority.NORMAL, NOW - timedelta(minutes=1), reason, patient)


def run(groups, directory, prefs):
    rows = [h for hs in groups.values() for h in hs]
    return release(groups, directory, prefs, {h.notification_id: "org" for h in rows},
                   {h.notification_id: NOW - timedelta(hours=8) for h in rows}, NOW)


def test_one_digest_per_user_counting_only_what_is_still_wanted():
    directory = Directory.of([DirectoryUser("a", "org"), DirectoryUser("b", "org", active=False)],
                             [("p1", "a")])
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
