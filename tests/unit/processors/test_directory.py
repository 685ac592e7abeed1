"""The directory processor's reduction of a batch to the last change per key."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from processors.directory.app import parse_key, reduce_batch
from streams.messages import DirectoryChange
from streams.records import Record
from streams.testing import FakeMessage

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def rec(key: str, value: DirectoryChange | None) -> Record:
    return Record(value, FakeMessage("dir", 0, 0, None, key.encode()))


@pytest.mark.parametrize("key,expected", [
    ("user:u1", ("user", "u1")), ("care-team:p1:u1", ("care-team", "p1", "u1")),
    ("user:", None), ("care-team:p1", None), ("group:x", None), ("", None),
])
def test_parse_key(key, expected):
    assert parse_key(key.encode()) == expected


def test_last_change_per_key_wins_and_tombstones_remove():
    u1_old = DirectoryChange("user", "o", "u1", T, roles=("nurse",))
    u1_new = DirectoryChange("user", "o", "u1", T, roles=("physician",))
    member = DirectoryChange("care_team_member", "o", "u2", T, patient_id="p1")
    batch = reduce_batch([rec("user:u1", u1_old), rec("care-team:p1:u2", member), rec("user:u1", u1_new),
                          rec("care-team:p1:u2", None), rec("user:u3", None), rec("bogus", u1_old)])
    assert [(u.user_id, u.roles) for u in batch.users] == [("u1", ("physician",))]
    assert batch.members == [] and batch.removed_members == [("p1", "u2")]
    assert batch.removed_users == ["u3"]
