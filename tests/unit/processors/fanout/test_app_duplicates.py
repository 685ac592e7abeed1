"""The fan-out acts on the first version of an event only (processors/fanout/app.py, with a fake loader)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timezone

from processors.fanout.app import Fanout
from processors.notifications.directory import Directory, DirectoryUser
from sinks.postgres.activity import row_content
from sinks.postgres.activity_rows import event_row
from streams.messages import PUSH_REQUEST, ActivityEvent, Priority
from streams.records import Record
from streams.serde import AvroSerde, SchemaStore
from streams.testing import FakeMessage

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
USERS = [DirectoryUser(f"u{i}", "org", frozenset({"physician"})) for i in range(3)]


class FakeLoader:
    def __init__(self, stored: list[ActivityEvent]) -> None:
        self.stored = {e.event_id: row_content(event_row(e)) for e in stored}

    def stored_contents(self, event_ids):
        return {i: self.stored[i] for i in event_ids if i in self.stored}

    def overrides(self, events):
        return {}

    def load(self, events, overrides=None):
        return Directory.of(USERS, [("p1", "u1"), ("p2", "u2")]), {}


def event(patient: str, title: str, event_id=None) -> ActivityEvent:
    return ActivityEvent(
        event_id or uuid.uuid4(),
        "LAB_RESULT_RECEIVED",  # a care-team type that raises no alert
        NOW,
        "org",
        title,
        patient_id=patient,
        notify=True,
        priority=Priority.URGENT,
    )


def handle(stored, events):
    fanout = Fanout(FakeLoader(stored), AvroSerde(PUSH_REQUEST, SchemaStore()), "push", clock=lambda: NOW)
    return fanout.handle([Record(e, FakeMessage("activity", 0, i, b"")) for i, e in enumerate(events)])


def test_a_second_version_of_a_stored_event_is_dead_lettered_and_not_fanned_out():
    v1 = event("p1", "first")
    v2 = dataclasses.replace(v1, patient_id="p2", title="second")

    outcome = handle([v1], [v2, v1])

    assert {row.user_id for row in outcome.writes.bell} == {"u1"}
    assert [e[11] for e in outcome.writes.events] == ["first"]
    (dead,) = outcome.dead_letters
    assert dead.error_type == "ConflictingDuplicate" and dead.message.offset() == 0


def test_within_a_batch_the_first_copy_is_fanned_out_and_a_different_later_one_dead_lettered():
    v1 = event("p1", "first")
    v2 = dataclasses.replace(v1, patient_id="p2", title="second")

    outcome = handle([], [v1, v2, v1])

    assert {row.user_id for row in outcome.writes.bell} == {"u1"} and len(outcome.outputs) == 1
    assert [d.message.offset() for d in outcome.dead_letters] == [1]
