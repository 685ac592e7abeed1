"""The bell: list, unread filter, cursor, unread count, read and read-all."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from api.queries import UNREAD_CAP
from tests.integration.api.conftest import World, at

pytestmark = pytest.mark.integration


@pytest.fixture
def bell(world: World):
    world.user("dr", "physician")
    world.on_team("p-1", "dr")
    ids = [
        world.notification(
            "dr",
            world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1", at=at(i)),
            patient="p-1",
            created=at(i),
        )
        for i in range(12)
    ]
    return world, ids, world.headers("dr", "physician")


def test_list_is_newest_first_with_generic_titles_and_a_cursor(client, bell):
    world, ids, headers = bell
    first = client.get("/v1/notifications?limit=5", headers=headers).json()
    assert [i["notification_id"] for i in first["items"]] == [str(n) for n in ids[::-1][:5]]
    assert {i["title"] for i in first["items"]} == {"New lab result"}
    assert first["unread"] == {"count": 12, "capped": False, "cap": UNREAD_CAP}
    rest = client.get(f"/v1/notifications?limit=50&cursor={first['next_cursor']}", headers=headers).json()
    assert [i["notification_id"] for i in rest["items"]] == [str(n) for n in ids[::-1][5:]]
    assert rest["next_cursor"] is None


def test_read_is_idempotent_and_the_unread_filter_and_count_follow(client, bell):
    world, ids, headers = bell
    first = client.post(f"/v1/notifications/{ids[3]}/read", headers=headers)
    again = client.post(f"/v1/notifications/{ids[3]}/read", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["read_at"] == again.json()["read_at"]
    unread = client.get("/v1/notifications?unread=true&limit=50", headers=headers).json()
    assert str(ids[3]) not in [i["notification_id"] for i in unread["items"]]
    assert len(unread["items"]) == unread["unread"]["count"] == 11
    assert client.get("/v1/notifications/unread-count", headers=headers).json()["count"] == 11


def test_read_all_up_to_leaves_newer_notifications_unread(client, bell):
    world, ids, headers = bell
    seen_newest = ids[7]
    newer = world.notification("dr", world.event(at=at(50)), created=at(50))
    response = client.post("/v1/notifications/read-all", json={"up_to": str(seen_newest)}, headers=headers)
    assert response.json() == {"marked": 8}
    unread = client.get("/v1/notifications?unread=true", headers=headers).json()["items"]
    assert [i["notification_id"] for i in unread] == [str(newer)] + [str(n) for n in ids[:7:-1]]
    assert client.post("/v1/notifications/read-all", headers=headers).json() == {"marked": 5}
    assert client.get("/v1/notifications/unread-count", headers=headers).json()["count"] == 0


def test_unknown_notification_is_404_and_a_malformed_id_422(client, bell):
    _, _, headers = bell
    assert client.post(f"/v1/notifications/{uuid.uuid4()}/read", headers=headers).status_code == 404
    response = client.post("/v1/notifications/not-a-uuid/read", headers=headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "notification_id"


def test_unread_count_is_capped(client, world: World, db):
    world.user("busy", "nurse")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, "
                "priority, reason, occurred_at) SELECT gen_random_uuid(), :u, :o, gen_random_uuid(), 'TASK_ASSIGNED', "
                "'NORMAL', 'practitioner', now() FROM generate_series(1, :n)"
            ),
            {"u": world.uid("busy"), "o": world.org, "n": UNREAD_CAP + 5},
        )
    headers = world.headers("busy", "nurse")
    assert client.get("/v1/notifications/unread-count", headers=headers).json() == {
        "count": UNREAD_CAP,
        "capped": True,
        "cap": UNREAD_CAP,
    }
    client.post("/v1/notifications/read-all", headers=headers)
    assert client.get("/v1/notifications/unread-count", headers=headers).json()["capped"] is False


def test_list_and_count_agree_while_notifications_arrive(client, world: World):
    """Given a writer adding notifications as fast as it can, every list response's unread count
    equals the unread rows it could page through in the same snapshot (small bell: one page)."""
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 150:
            world.notification("dr", world.event(at=at(i)), created=at(i))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(30):
            body = client.get("/v1/notifications?unread=true&limit=200", headers=headers).json()
            assert body["unread"]["count"] == len(body["items"])
    finally:
        stop.set()
        thread.join()
