"""Device tokens: register, refresh, move to another user only with proof, unbind on logout."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.integration.api.conftest import World

pytestmark = pytest.mark.integration


def _row(world: World, device: str) -> tuple:
    with world.db.connect() as conn:
        return conn.execute(
            text("SELECT user_id, platform, retired_at IS NOT NULL, failure_count FROM device_tokens WHERE token = :t"),
            {"t": device},
        ).one()


def _moves(world: World, device: str) -> list[tuple]:
    with world.db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT from_user_id, to_user_id, organization_id FROM device_token_moves WHERE token_sha256 = "
                    "sha256(convert_to(:t, 'UTF8'))"
                ),
                {"t": device},
            )
        ]


def test_register_refresh_move_with_proof_and_unbind(client, world: World):
    world.user("a", "nurse")
    world.user("b", "nurse")
    device, install = f"fcm:{uuid.uuid4().hex}-x_y.z", uuid.uuid4().hex
    a, b = world.headers("a", "nurse"), world.headers("b", "nurse")
    first = client.post(
        "/v1/devices", json={"token": device, "platform": "android", "installation_id": install}, headers=a
    ).json()
    world._run("UPDATE device_tokens SET failure_count = 3 WHERE token = :t", t=device)
    again = client.post("/v1/devices", json={"token": device, "platform": "android"}, headers=a).json()
    assert again["last_seen_at"] >= first["last_seen_at"]
    assert _row(world, device) == (world.uid("a"), "android", False, 0)
    # the shared ward phone changes hands: the same installation proves it holds the device
    moved = client.post("/v1/devices", json={"token": device, "platform": "ios", "installation_id": install}, headers=b)
    assert moved.status_code == 200
    assert _row(world, device) == (world.uid("b"), "ios", False, 0)
    assert _moves(world, device) == [(world.uid("a"), world.uid("b"), world.org)]
    refused = client.delete(f"/v1/devices/{device}", headers=a)  # the previous owner is told why
    assert refused.status_code == 409 and "another user" in refused.json()["message"]
    assert client.delete(f"/v1/devices/{device}", headers=b).status_code == 204
    assert client.delete(f"/v1/devices/{device}", headers=b).status_code == 204  # idempotent
    assert _row(world, device)[2] is True
    client.post("/v1/devices", json={"token": device, "platform": "ios"}, headers=b)  # logged in again
    assert _row(world, device)[2] is False
    assert client.delete(f"/v1/devices/fcm-{uuid.uuid4().hex}", headers=a).status_code == 404


@pytest.mark.parametrize("proof", [None, "0" * 32], ids=["no-installation-id", "wrong-installation-id"])
def test_another_users_token_is_not_taken_without_proof(client, world: World, proof):
    world.user("victim", "physician")
    world.user("attacker", "nurse")
    device = f"fcm:{uuid.uuid4().hex}"
    client.post(
        "/v1/devices",
        json={"token": device, "platform": "ios", "installation_id": uuid.uuid4().hex},
        headers=world.headers("victim", "physician"),
    )
    body = {"token": device, "platform": "android"} | ({"installation_id": proof} if proof else {})
    response = client.post("/v1/devices", json=body, headers=world.headers("attacker", "nurse"))
    assert response.status_code == 409
    assert _row(world, device) == (world.uid("victim"), "ios", False, 0)
    assert _moves(world, device) == []


def test_a_token_never_moves_across_organizations_even_with_proof(client, world: World, db):
    other = World(db)
    world.user("victim", "physician")
    other.user("attacker", "admin")
    device, install = f"fcm:{uuid.uuid4().hex}", uuid.uuid4().hex
    client.post(
        "/v1/devices",
        json={"token": device, "platform": "ios", "installation_id": install},
        headers=world.headers("victim", "physician"),
    )
    response = client.post(
        "/v1/devices",
        json={"token": device, "platform": "ios", "installation_id": install},
        headers=other.headers("attacker", "admin"),
    )
    assert response.status_code == 409
    assert _row(world, device)[0] == world.uid("victim")
    # a token seeded before organizations were recorded: its owner's directory row decides
    world._run("UPDATE device_tokens SET organization_id = NULL WHERE token = :t", t=device)
    response = client.post(
        "/v1/devices",
        json={"token": device, "platform": "ios", "installation_id": install},
        headers=other.headers("attacker", "admin"),
    )
    assert response.status_code == 409 and _row(world, device)[0] == world.uid("victim")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"token": "", "platform": "ios"}, "token"),
        ({"token": "a b", "platform": "ios"}, "token"),
        ({"token": "t", "platform": "blackberry"}, "platform"),
        ({"token": "t"}, "platform"),
        ({"token": "t", "platform": "ios", "installation_id": "short"}, "installation_id"),
        ({"token": "t\n", "platform": "ios"}, "token"),
        ({"token": "t\u0000", "platform": "ios"}, "token"),
    ],
)
def test_bad_registration_is_422(client, world: World, body, field):
    response = client.post("/v1/devices", json=body, headers=world.headers("a", "nurse"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
