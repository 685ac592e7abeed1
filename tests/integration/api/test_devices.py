"""Device tokens: register, refresh, move to another user, unbind on logout."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.integration.api.conftest import World

pytestmark = pytest.mark.integration


def _row(world: World, device: str) -> tuple:
    with world.db.connect() as conn:
        return conn.execute(text("SELECT user_id, platform, retired_at IS NOT NULL, failure_count FROM device_tokens "
                                 "WHERE token = :t"), {"t": device}).one()


def test_register_refresh_move_and_unbind(client, world: World):
    world.user("a", "nurse")
    world.user("b", "nurse")
    device = f"fcm:{uuid.uuid4().hex}-x_y.z"
    a, b = world.headers("a", "nurse"), world.headers("b", "nurse")
    first = client.post("/v1/devices", json={"token": device, "platform": "android"}, headers=a).json()
    world._run("UPDATE device_tokens SET failure_count = 3 WHERE token = :t", t=device)
    again = client.post("/v1/devices", json={"token": device, "platform": "android"}, headers=a).json()
    assert again["last_seen_at"] >= first["last_seen_at"]
    assert _row(world, device) == (world.uid("a"), "android", False, 0)
    client.post("/v1/devices", json={"token": device, "platform": "ios"}, headers=b)  # the phone changed hands
    assert _row(world, device) == (world.uid("b"), "ios", False, 0)
    assert client.delete(f"/v1/devices/{device}", headers=a).status_code == 404
    assert client.delete(f"/v1/devices/{device}", headers=b).status_code == 204
    assert client.delete(f"/v1/devices/{device}", headers=b).status_code == 204  # idempotent
    assert _row(world, device)[2] is True
    client.post("/v1/devices", json={"token": device, "platform": "ios"}, headers=b)  # logged in again
    assert _row(world, device)[2] is False


@pytest.mark.parametrize("body, field", [
    ({"token": "", "platform": "ios"}, "token"), ({"token": "a b", "platform": "ios"}, "token"),
    ({"token": "t", "platform": "blackberry"}, "platform"), ({"token": "t"}, "platform"),
])
def test_bad_registration_is_422(client, world: World, body, field):
    response = client.post("/v1/devices", json=body, headers=world.headers("a", "nurse"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
