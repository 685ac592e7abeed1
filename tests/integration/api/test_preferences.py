"""Preferences: defaults, round trip, validation, and the contract with the fan-out's reader."""

from __future__ import annotations

import pytest

from processors.catalogue import DEFAULT_ENABLED_TYPES
from sinks.postgres.preferences import load_preferences
from tests.integration.api.conftest import World

pytestmark = pytest.mark.integration

VALID = {
    "push_enabled": True,
    "email_enabled": False,
    "enabled_types": ["LAB_RESULT_CRITICAL", "TASK_ASSIGNED"],
    "min_push_priority": "NORMAL",
    "quiet_hours_start": "22:30",
    "quiet_hours_end": "06:00",
    "timezone": "America/Chicago",
}


def test_no_stored_row_means_the_defaults_in_the_directory_zone(client, world: World):
    world.user("dr", "physician", timezone="Europe/Berlin")
    body = client.get("/v1/preferences", headers=world.headers("dr", "physician")).json()
    assert body == {
        "push_enabled": True,
        "email_enabled": False,
        "enabled_types": sorted(DEFAULT_ENABLED_TYPES),
        "min_push_priority": "HIGH",
        "quiet_hours_start": None,
        "quiet_hours_end": None,
        "timezone": "Europe/Berlin",
        "stored": False,
    }


def test_round_trip_and_the_fan_out_reads_the_same_row(client, world: World, db):
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    put = client.put(
        "/v1/preferences",
        json=VALID | {"enabled_types": ["TASK_ASSIGNED", "LAB_RESULT_CRITICAL", "TASK_ASSIGNED"]},
        headers=headers,
    )
    assert put.status_code == 200
    assert put.json() == VALID | {"stored": True}
    assert client.get("/v1/preferences", headers=headers).json() == VALID | {"stored": True}
    with db.connect() as conn:
        row = load_preferences(conn, [world.uid("dr")])[world.uid("dr")]
    assert (row.enabled_types, row.quiet_hours_start.isoformat(), row.timezone) == (
        ("LAB_RESULT_CRITICAL", "TASK_ASSIGNED"),
        "22:30:00",
        "America/Chicago",
    )
    off = VALID | {"quiet_hours_start": None, "quiet_hours_end": None, "timezone": None}
    assert client.put("/v1/preferences", json=off, headers=headers).json() == off | {"stored": True}


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"quiet_hours_start": "24:00"}, "quiet_hours_start", "HH:MM"),
        ({"quiet_hours_end": "7:00"}, "quiet_hours_end", "HH:MM"),
        ({"quiet_hours_end": "22:30"}, "quiet_hours_end", "differ"),
        ({"quiet_hours_end": None}, "quiet_hours_end", "together"),
        ({"quiet_hours_start": None}, "quiet_hours_end", "together"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "IANA"),
        ({"enabled_types": ["LAB_RESULT_CRITICAL", "NOT_A_TYPE"]}, "enabled_types", "NOT_A_TYPE"),
        ({"min_push_priority": "SOMETIMES"}, "min_push_priority", "LOW"),
        ({"push_enabled": "perhaps"}, "push_enabled", "bool"),
        ({"surprise": 1}, "surprise", "not permitted"),
    ],
)
def test_a_bad_value_is_422_with_the_field_and_the_reason(client, world: World, change, field, reason):
    response = client.put("/v1/preferences", json=VALID | change, headers=world.headers("dr", "physician"))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field], errors
    assert reason in errors[0]["reason"]


def test_a_missing_field_is_422(client, world: World):
    body = {k: v for k, v in VALID.items() if k != "push_enabled"}
    response = client.put("/v1/preferences", json=body, headers=world.headers("dr", "physician"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "push_enabled"
