"""The directory processor's reduction of a batch to the last change per key."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from processors.directory.app import BAD_KEY, MISMATCH, DirectoryProcessor, parse_key, reduce_batch
from streams.messages import DirectoryChange
from streams.records import Record
from streams.testing import FakeMessage

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rec(key: str, value: DirectoryChange | None) -> Record:
    return Record(value, FakeMessage("dir", 0, 0, None, key.encode()))


@pytest.mark.parametrize(
    "key,expected",
    [
        ("user:u1", ("user", "u1")),
        ("care-team:p1:u1", ("care-team", "p1", "u1")),
        ("user:", None),
        ("care-team:p1", None),
        ("group:x", None),
        ("", None),
    ],
)
def test_parse_key(key, expected):
    assert parse_key(key.encode()) == expected


def test_last_change_per_key_wins_and_tombstones_remove():
    u1_old = DirectoryChange("user", "o", "u1", T, roles=("nurse",))
    u1_new = DirectoryChange("user", "o", "u1", T, roles=("physician",))
    member = DirectoryChange("care_team_member", "o", "u2", T, patient_id="p1")
    batch, dead = reduce_batch(
        [
            rec("user:u1", u1_old),
            rec("care-team:p1:u2", member),
            rec("user:u1", u1_new),
            rec("care-team:p1:u2", None),
            rec("user:u3", None),
        ]
    )
    assert [(u.user_id, u.roles) for u in batch.users] == [("u1", ("physician",))]
    assert batch.members == [] and batch.removed_members == [("p1", "u2")]
    assert batch.removed_users == ["u3"] and dead == []


U1 = DirectoryChange("user", "o", "u1", T)
MEMBER = DirectoryChange("care_team_member", "o", "u2", T, patient_id="p1")


@pytest.mark.parametrize(
    "key,value,error_type,reason",
    [
        ("bogus", U1, BAD_KEY, "key is neither user:<id> nor care-team:<patient>:<user>"),
        ("user:", None, BAD_KEY, "key is neither"),  # a tombstone under a bad key removes nothing: said, not dropped
        ("care-team:p1", MEMBER, BAD_KEY, "key is neither"),
        ("user:u9", U1, MISMATCH, "key's user id differs from the value's user_id"),
        ("user:u2", MEMBER, MISMATCH, "key names a user but the value is a care_team_member"),
        ("care-team:p1:u1", U1, MISMATCH, "key names a care-team member but the value is a user"),
        ("care-team:p2:u2", MEMBER, MISMATCH, "key's patient or user id differs"),
        ("care-team:p1:u9", MEMBER, MISMATCH, "key's patient or user id differs"),
    ],
)
def test_given_a_record_that_cannot_be_applied_then_it_is_dead_lettered_with_its_reason(key, value, error_type, reason):
    good = rec("user:u1", U1)
    bad = rec(key, value)

    outcome = DirectoryProcessor().handle([good, bad, rec("care-team:p1:u2", MEMBER)])

    assert [(d.error_type, d.message) for d in outcome.dead_letters] == [(error_type, bad.message)]
    assert outcome.dead_letters[0].reason.startswith(reason)
    assert [u.user_id for u in outcome.writes.users] == ["u1"]  # the records around it are stored
    assert [(m.patient_id, m.user_id) for m in outcome.writes.members] == [("p1", "u2")]


def test_a_bad_record_does_not_override_the_good_change_of_its_key_before_it():
    batch, dead = reduce_batch([rec("user:u1", U1), rec("user:u1", MEMBER)])

    assert [u.user_id for u in batch.users] == ["u1"] and len(dead) == 1
