"""Receipts: POST /v1/notifications/{id}/opened and the administrators' GET /v1/notifications/receipts,
over rows inserted as the fan-out (user_notifications) and the push sender (push_deliveries) write them."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from tests.integration.api.conftest import World, at

pytestmark = pytest.mark.integration


def deliver(
    world: World, notification: uuid.UUID, user: str, *statuses: str, pushed_at: datetime | None = None
) -> None:
    """One push_deliveries row per status (one device each), as the push sender records FCM's answers;
    the bell's pushed_at is FCM's first acceptance."""
    for i, status in enumerate(statuses):
        world._run(
            "INSERT INTO push_deliveries (notification_id, token, user_id, status) VALUES (:n, :t, :u, :s)",
            n=notification,
            t=f"tok-{notification.hex}-{i}",
            u=world.uid(user),
            s=status,
        )
    if pushed_at is not None:
        world._run(
            "UPDATE user_notifications SET push_status = 'sent', pushed_at = :p WHERE notification_id = :n",
            p=pushed_at,
            n=notification,
        )


def sample(name: str, event_type: str) -> float:
    return REGISTRY.get_sample_value(name, {"event_type": event_type}) or 0.0


@pytest.fixture
def nurse(world: World):
    world.user("nurse", "nurse")
    world.user("other", "nurse")
    return world, world.headers("nurse", "nurse")


def test_opened_records_the_first_open_and_marks_the_notification_read(client, nurse):
    world, headers = nurse
    nid = world.notification("nurse", world.event(), created=at(0))
    first = client.post(f"/v1/notifications/{nid}/opened", headers=headers)
    again = client.post(f"/v1/notifications/{nid}/opened", headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["opened_at"] == first.json()["read_at"]  # it was unread: read at the open
    assert world.scalar(
        "SELECT opened_at IS NOT NULL AND read_at = opened_at FROM user_notifications WHERE notification_id = :n", n=nid
    )
    unread = client.get("/v1/notifications/unread-count", headers=headers).json()
    assert unread["count"] == 0


def test_opening_a_read_notification_keeps_its_read_time(client, nurse):
    world, headers = nurse
    nid = world.notification("nurse", world.event(), read=True)
    read_at = client.post(f"/v1/notifications/{nid}/read", headers=headers).json()["read_at"]
    body = client.post(f"/v1/notifications/{nid}/opened", headers=headers).json()
    assert body["read_at"] == read_at
    assert body["opened_at"] >= read_at


def test_only_the_recipient_may_open_a_notification(client, nurse):
    world, headers = nurse
    nid = world.notification("nurse", world.event())
    assert client.post(f"/v1/notifications/{nid}/opened", headers=world.headers("other", "nurse")).status_code == 404
    assert client.post(f"/v1/notifications/{uuid.uuid4()}/opened", headers=headers).status_code == 404
    assert world.scalar("SELECT opened_at FROM user_notifications WHERE notification_id = :n", n=nid) is None


def test_an_open_is_counted_once_with_the_time_from_the_accepted_push(client, nurse):
    world, headers = nurse
    nid = world.notification("nurse", world.event(), event_type="LAB_RESULT_CRITICAL", created=at(0))
    pushed = datetime.now(timezone.utc) - timedelta(seconds=90)
    deliver(world, nid, "nurse", "sent", pushed_at=pushed)
    opened_before = sample("herald_notifications_opened_total", "LAB_RESULT_CRITICAL")
    count_before = sample("herald_notification_open_seconds_count", "LAB_RESULT_CRITICAL")
    sum_before = sample("herald_notification_open_seconds_sum", "LAB_RESULT_CRITICAL")

    # Eight taps at once (the app retrying, two devices): one open
    statuses = []
    threads = [
        threading.Thread(
            target=lambda: statuses.append(client.post(f"/v1/notifications/{nid}/opened", headers=headers).status_code)
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses == [200] * 8
    assert sample("herald_notifications_opened_total", "LAB_RESULT_CRITICAL") - opened_before == 1
    assert sample("herald_notification_open_seconds_count", "LAB_RESULT_CRITICAL") - count_before == 1
    seconds = sample("herald_notification_open_seconds_sum", "LAB_RESULT_CRITICAL") - sum_before
    assert 90 <= seconds < 120  # from the push's acceptance, not from the creation days ago


def test_receipts_count_pushed_accepted_and_opened_per_event_type(client, world):
    world.user("admin", "admin")
    world.user("dr", "physician")
    labs = [world.notification("dr", world.event(), event_type="LAB_RESULT_RECEIVED", created=at(i)) for i in range(4)]
    deliver(world, labs[0], "dr", "sent", "retired", pushed_at=at(1))
    deliver(world, labs[1], "dr", "sent", pushed_at=at(2))
    deliver(world, labs[2], "dr", "failed")
    world._run(
        "UPDATE user_notifications SET opened_at = pushed_at + interval '30 seconds' WHERE notification_id = :n",
        n=labs[0],
    )
    world._run(
        "UPDATE user_notifications SET opened_at = pushed_at + interval '90 seconds' WHERE notification_id = :n",
        n=labs[1],
    )
    world._run(
        "UPDATE user_notifications SET opened_at = created_at + interval '1 hour' WHERE notification_id = :n", n=labs[3]
    )
    rx = world.notification("dr", world.event(), event_type="MEDICATION_PRESCRIBED", created=at(5))
    deliver(world, rx, "dr", "sent", pushed_at=at(6))
    world.notification("dr", world.event(), event_type="LAB_RESULT_RECEIVED", created=at(-60))  # before the window
    other = World(world.db)  # another organization's rows are not counted
    other.user("dr", "physician")
    deliver(
        other, other.notification("dr", other.event(), event_type="LAB_RESULT_RECEIVED", created=at(1)), "dr", "sent"
    )

    response = client.get(
        "/v1/notifications/receipts",
        params={"since": at(0).isoformat(), "until": at(30).isoformat()},
        headers=world.headers("admin", "admin"),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["since"].startswith(at(0).isoformat()[:19])
    assert body["event_types"] == [
        {
            "event_type": "LAB_RESULT_RECEIVED",
            "notifications": 4,
            "pushed": 3,
            "accepted": 2,
            "opened": 3,
            "devices_pushed": 4,
            "devices_accepted": 2,
            "median_open_seconds": 90.0,  # 30 s, 90 s from the push; 3,600 s from the creation of the unpushed one
        },
        {
            "event_type": "MEDICATION_PRESCRIBED",
            "notifications": 1,
            "pushed": 1,
            "accepted": 1,
            "opened": 0,
            "devices_pushed": 1,
            "devices_accepted": 1,
            "median_open_seconds": None,
        },
    ]


def test_receipts_are_for_administrators_and_cover_a_bounded_window(client, world):
    world.user("admin", "medical_director")
    world.user("dr", "physician")
    world.notification("dr", world.event(), created=at(0))
    admin = world.headers("admin", "medical_director")
    assert client.get("/v1/notifications/receipts", headers=world.headers("dr", "physician")).status_code == 403
    claimed = world.headers("dr", "physician", "admin")  # a token's role the directory does not grant
    assert client.get("/v1/notifications/receipts", headers=claimed).status_code == 403

    default = client.get("/v1/notifications/receipts", headers=admin)
    assert default.status_code == 200 and default.json()["event_types"] == []  # the last 7 days: nothing
    reversed_ = client.get(
        "/v1/notifications/receipts", params={"since": at(10).isoformat(), "until": at(-10).isoformat()}, headers=admin
    )
    assert reversed_.status_code == 200 and reversed_.json()["event_types"] == []
    long = client.get(
        "/v1/notifications/receipts",
        params={"since": "2000-01-01T00:00:00Z", "until": at(1).isoformat()},
        headers=admin,
    ).json()
    assert long["since"].startswith((at(1) - timedelta(days=92)).isoformat()[:19])  # 92 days before until
    assert [t["notifications"] for t in long["event_types"]] == [1]
    assert client.get("/v1/notifications/receipts", params={"since": "yesterday"}, headers=admin).status_code == 422
