"""Input the API must refuse with a 4xx (never a 500), roles the directory does not grant, and the
headers every PHI response carries."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from tests.integration.api.conftest import World, bearer, token

pytestmark = pytest.mark.integration
PREFS = {
    "push_enabled": True,
    "email_enabled": False,
    "enabled_types": [],
    "min_push_priority": "HIGH",
    "quiet_hours_start": "22:00",
    "quiet_hours_end": "07:00",
    "timezone": "Europe/Berlin",
}


@pytest.mark.parametrize("value", ["LAB\x00RESULT", "LAB\nRESULT", "LAB\x7f", "\x1b[31m"])
def test_control_characters_in_event_type_are_422(client, world: World, value):
    world.user("dr", "physician")
    response = client.get("/v1/feed", params={"event_type": value}, headers=world.headers("dr", "physician"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"].startswith("event_type")


@pytest.mark.parametrize("value", ["p\x00x", "p-1\n", "p\tx", "\x00"])
def test_control_characters_in_a_patient_id_are_422(client, world: World, value):
    world.user("dr", "physician")
    path = f"/v1/patients/{urllib.parse.quote(value, safe='')}/timeline"
    response = client.get(path, headers=world.headers("dr", "physician"))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("value", ["abc\x00", "abc\n", "a b"])
def test_a_cursor_not_in_the_documented_format_is_422(client, world: World, value):
    world.user("dr", "physician")
    response = client.get("/v1/feed", params={"cursor": value}, headers=world.headers("dr", "physician"))
    assert response.status_code == 422


@pytest.mark.parametrize("claim", ["sub", "org"])
@pytest.mark.parametrize("value", ["u\x00-1", "u-1\n", "u\x1b"])
def test_control_characters_in_identity_claims_are_401(client, world: World, claim, value):
    ids = {"sub": world.uid("dr"), "org": world.org} | {claim: value}
    response = client.get("/v1/feed", headers=bearer(ids["sub"], ids["org"], "physician"))
    assert response.status_code == 401 and "control" in response.json()["message"]


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_time_claims_must_be_numbers(client, world: World, claim):
    world.user("dr", "physician")
    now = int(time.time())
    value = {"exp": str(now + 3600), "nbf": str(now - 10), "iat": str(now)}[claim]
    headers = {"Authorization": f"Bearer {token(world.uid('dr'), world.org, 'physician', **{claim: value})}"}
    response = client.get("/v1/feed", headers=headers)
    assert response.status_code == 401 and claim in response.json()["message"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("quiet_hours_start", "22:00\n"),
        ("quiet_hours_end", "07:00\n"),
        ("quiet_hours_start", "２２:00"),
        ("timezone", "localtime"),
        ("timezone", "Factory"),
        ("timezone", "Europe/Berlin\n"),
        ("timezone", "UTC\x00"),
    ],
)
def test_quiet_hours_and_zones_refuse_near_misses(client, world: World, field, value):
    world.user("dr", "physician")
    response = client.put("/v1/preferences", json=PREFS | {field: value}, headers=world.headers("dr", "physician"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


def test_a_body_that_is_not_json_is_400(client, world: World):
    world.user("dr", "physician")
    response = client.put(
        "/v1/preferences",
        content=b"{not json",
        headers=world.headers("dr", "physician") | {"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["message"] == "the body is not valid JSON"


def test_a_token_claiming_more_roles_than_the_directory_grants_gets_the_directorys(client, world: World):
    world.user("desk", "front_desk")
    world.on_team("p-1", "desk")
    clinical = world.event("LAB_RESULT_CRITICAL", visibility="clinical_staff", patient="p-1")
    public = world.event("ANNOUNCEMENT", visibility="all_members")
    seen = {
        i["event_id"]
        for i in client.get("/v1/feed", headers=world.headers("desk", "admin", "physician", "front_desk")).json()[
            "items"
        ]
    }
    assert str(public) in seen
    assert str(clinical) not in seen  # "admin" and "physician" are the token's word only
    # once the directory grants the role, the same token acts with it
    world._run(
        "UPDATE directory_users SET roles = ARRAY['front_desk', 'physician'] WHERE user_id = :u", u=world.uid("desk")
    )
    seen = {
        i["event_id"]
        for i in client.get("/v1/feed", headers=world.headers("desk", "admin", "physician", "front_desk")).json()[
            "items"
        ]
    }
    assert str(clinical) in seen


def test_a_token_with_fewer_roles_than_the_directory_narrows_them(client, world: World):
    world.user("dr", "physician", "front_desk")
    world.on_team("p-1", "dr")
    clinical = world.event("LAB_RESULT_CRITICAL", visibility="clinical_staff", patient="p-1")
    seen = {i["event_id"] for i in client.get("/v1/feed", headers=world.headers("dr", "front_desk")).json()["items"]}
    assert str(clinical) not in seen


@pytest.mark.parametrize(
    "path",
    [
        "/v1/feed",
        "/v1/notifications",
        "/v1/notifications/unread-count",
        "/v1/preferences",
        "/v1/patients/p-unknown/timeline",
    ],
)
def test_phi_responses_are_not_stored_by_caches(client, world: World, path):
    world.user("dr", "physician")
    response = client.get(path, headers=world.headers("dr", "physician"))
    assert response.headers["Cache-Control"] == "no-store", (response.status_code, path)
    assert client.get(path).headers["Cache-Control"] == "no-store"  # the 401 too


def test_options_and_405_name_every_method_of_the_path(client):
    response = client.options("/v1/preferences")
    assert response.status_code == 204 and response.headers["Allow"] == "GET, OPTIONS, PUT"
    assert client.request("PATCH", "/v1/devices/abc", headers={}).status_code == 401  # unauthenticated first
    assert client.post("/healthz").headers["Allow"] == "GET, OPTIONS"
