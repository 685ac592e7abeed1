"""Validation of request bodies, the unread cap, and the error shape."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from api.errors import _field
from api.queries import UNREAD_CAP
from api.schemas import DeviceRegistration, PreferencesBody, PriorityName, UnreadCount
from streams.messages import Priority

VALID = {"push_enabled": True, "email_enabled": False, "enabled_types": ["TASK_ASSIGNED"], "min_push_priority": "HIGH"}


def _errors(body: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        PreferencesBody.model_validate(body)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


def test_priority_names_mirror_the_wire_enum():
    assert set(typing.get_args(PriorityName)) == {p.value for p in Priority}


@pytest.mark.parametrize("start, end", [("22:00", "07:00"), ("00:00", "23:59"), ("13:05", "13:06"), (None, None)])
def test_valid_quiet_hours(start, end):
    body = PreferencesBody.model_validate(VALID | {"quiet_hours_start": start, "quiet_hours_end": end})
    assert body.quiet_hours_start == start


@pytest.mark.parametrize("value", ["24:00", "7:00", "07:60", "07:00:00", "7pm", "", " 07:00"])
def test_quiet_hours_are_hh_mm(value):
    assert _errors(VALID | {"quiet_hours_start": value, "quiet_hours_end": "08:00"})[0][0] == "quiet_hours_start"


@pytest.mark.parametrize(
    "zone, ok",
    [
        ("UTC", True),
        ("America/Argentina/Buenos_Aires", True),
        ("Europe/Berlin", True),
        ("europe/berlin", False),
        ("GMT+5", False),
        ("Mars/Base", False),
        ("", False),
    ],
)
def test_time_zones_are_iana_names(zone, ok):
    if ok:
        assert PreferencesBody.model_validate(VALID | {"timezone": zone}).timezone == zone
    else:
        assert _errors(VALID | {"timezone": zone})[0][0] == "timezone"


def test_event_types_must_be_known_and_are_deduplicated():
    body = PreferencesBody.model_validate(VALID | {"enabled_types": ["TASK_ASSIGNED", "ANNOUNCEMENT", "TASK_ASSIGNED"]})
    assert body.enabled_types == ["ANNOUNCEMENT", "TASK_ASSIGNED"]
    assert _errors(VALID | {"enabled_types": ["VACCINE_ADMINISTERED"]}) == [
        ("enabled_types", "Value error, unknown event types: VACCINE_ADMINISTERED")
    ]


def test_unread_count_caps():
    assert UnreadCount.of(5) == UnreadCount(count=5, capped=False, cap=UNREAD_CAP)
    assert UnreadCount.of(UNREAD_CAP) == UnreadCount(count=UNREAD_CAP, capped=False, cap=UNREAD_CAP)
    assert UnreadCount.of(UNREAD_CAP + 1) == UnreadCount(count=UNREAD_CAP, capped=True, cap=UNREAD_CAP)


def test_device_tokens_are_plain_fcm_characters():
    assert DeviceRegistration(token="abc:APA91b-_.x", platform="web").token == "abc:APA91b-_.x"
    with pytest.raises(ValidationError):
        DeviceRegistration(token="abc/def", platform="web")


@pytest.mark.parametrize(
    "loc, field",
    [
        (("body", "quiet_hours_start"), "quiet_hours_start"),
        (("query", "limit"), "limit"),
        (("body",), "body"),
        (("body", "enabled_types", 2), "enabled_types.2"),
    ],
)
def test_error_fields_drop_the_location_prefix(loc, field):
    assert _field(loc) == field
