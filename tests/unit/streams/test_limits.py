"""One definition of every field's limits: the SDK refuses what the database could not store, and the
limits are the columns' widths."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import String

from sinks.postgres.models import ActivityEventRow, CareTeamMemberRow, DirectoryUserRow
from streams.errors import InvalidEvent
from streams.limits import (
    ACTIVITY_TEXT_MAX,
    ATTRIBUTE_KEY_MAX,
    ATTRIBUTE_VALUE_MAX,
    ATTRIBUTES_MAX,
    DIRECTORY_TEXT_MAX,
    ROLE_MAX,
)
from streams.messages import ActivityEvent, DirectoryChange

VALID = dict(
    event_id=uuid.UUID(int=1),
    event_type="LAB_RESULT_RECEIVED",
    organization_id="org-1",
    title="t",
    occurred_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    visibility="all_members",
)


def at(name: str, length: int) -> str:
    return "A" * length if name == "event_type" else "x" * length


@pytest.mark.parametrize("name", [n for n in ACTIVITY_TEXT_MAX if n != "visibility"])
def test_a_field_at_its_limit_is_accepted_and_one_character_over_is_refused_by_name(name):
    most = ACTIVITY_TEXT_MAX[name]
    ActivityEvent(**{**VALID, name: at(name, most)}).validate()

    with pytest.raises(InvalidEvent) as refused:
        ActivityEvent(**{**VALID, name: at(name, most + 1)}).validate()

    assert name in str(refused.value)


@pytest.mark.parametrize(
    "change",
    [
        {"title": "a\x00b"},
        {"description": "\x00"},
        {"patient_id": "p\x00"},
        {"source": "\x00"},
        {"attributes": {"k": "v\x00"}},
        {"attributes": {"k\x00": "v"}},
    ],
)
def test_a_nul_character_anywhere_is_refused(change):
    with pytest.raises(InvalidEvent, match="NUL"):
        ActivityEvent(**{**VALID, **change}).validate()


@pytest.mark.parametrize(
    "attributes, fragment",
    [
        ({f"k{i}": "v" for i in range(ATTRIBUTES_MAX + 1)}, "entries"),
        ({"k" * (ATTRIBUTE_KEY_MAX + 1): "v"}, "attribute key"),
        ({"k": "v" * (ATTRIBUTE_VALUE_MAX + 1)}, "attribute value"),
    ],
)
def test_the_attribute_map_is_bounded(attributes, fragment):
    with pytest.raises(InvalidEvent, match=fragment):
        ActivityEvent(**{**VALID, "attributes": attributes}).validate()


def test_an_event_type_with_a_trailing_newline_is_refused():
    with pytest.raises(InvalidEvent, match="UPPER_SNAKE_CASE"):
        ActivityEvent(**{**VALID, "event_type": "LAB_RESULT_RECEIVED\n"}).validate()


def test_the_sdk_refuses_an_invalid_event_at_the_call():
    from streams.messages import ACTIVITY_EVENT
    from streams.producer import ActivityPublisher
    from streams.serde import AvroSerde, SchemaStore

    class NeverCalled:
        def publish(self, *args):
            raise AssertionError("an invalid event must not reach the producer")

    sdk = ActivityPublisher(NeverCalled(), AvroSerde(ACTIVITY_EVENT, SchemaStore()), "topic")
    with pytest.raises(InvalidEvent, match="patient_id"):
        sdk.emit_activity_event(event_type="LAB_RESULT_RECEIVED", organization_id="o", title="t", patient_id="p" * 65)
    with pytest.raises(InvalidEvent, match="NUL"):
        sdk.publish(ActivityEvent(**{**VALID, "title": "\x00"}))


def widths(model) -> dict[str, int]:
    return {c.name: c.type.length for c in model.__table__.columns if isinstance(c.type, String) and c.type.length}


def test_the_activity_limits_are_the_activity_columns_widths():
    columns = widths(ActivityEventRow)
    limited = {name: most for name, most in ACTIVITY_TEXT_MAX.items() if name in columns}
    assert limited == {name: columns[name] for name in limited}
    assert set(ACTIVITY_TEXT_MAX) - set(limited) == {"description"}  # TEXT: bounded by the feed, not the column
    assert set(columns) - set(ACTIVITY_TEXT_MAX) == {"priority"}  # written from an enum, never from input


def test_the_directory_limits_are_the_directory_columns_widths():
    columns = {**widths(DirectoryUserRow), **widths(CareTeamMemberRow)}
    assert {n: columns[n] for n in DIRECTORY_TEXT_MAX} == DIRECTORY_TEXT_MAX
    assert DirectoryUserRow.__table__.c.roles.type.item_type.length == ROLE_MAX


def test_a_directory_change_over_a_limit_is_refused():
    change = DirectoryChange(
        entity="user", organization_id="o", user_id="u" * 65, changed_at=datetime(2026, 1, 1, tzinfo=timezone.utc)
    )
    with pytest.raises(InvalidEvent, match="user_id"):
        change.validate()
