"""Live updates end to end: real uvicorn servers (each its own app, hub and listening connection) on free
ports in threads, read with httpx streaming; rows committed with SQL as the fan-out and persister would."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from api.main import create_app
from tests.integration.api.conftest import World, at

pytestmark = pytest.mark.integration


class LiveServer:
    """One API process: uvicorn serving a fresh app in a thread; ``stop`` ends it like a crash would."""

    def __init__(self, settings) -> None:
        self.app = create_app(settings)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not (self.server.started and self.app.state.live.lo is not None):
            assert time.monotonic() < deadline and self.thread.is_alive(), "the API did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = self.server.force_exit = True
        self.thread.join(10)


@dataclass
class Sse:
    """One stream read in a thread; events queue up as (event, id, data)."""

    url: str
    headers: dict
    events: queue.Queue = field(default_factory=queue.Queue)
    ended: threading.Event = field(default_factory=threading.Event)
    status: int | None = None

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=None))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as response:
                self.status = response.status_code
                name, event_id, data = None, None, []
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and name:
                        self.events.put((name, event_id, json.loads("\n".join(data))))
                        name, event_id, data = None, None, []
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def next(self, *names: str, timeout: float = 5.0) -> tuple[str, str, dict]:
        """The next event (of ``names``, skipping others), or a failure after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(deadline - time.monotonic(), 0.001))
            if not names or event[0] in names:
                return event

    def close(self) -> None:
        self._client.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def server(api_settings):
    made = LiveServer(api_settings)
    yield made
    made.stop()


@pytest.fixture
def streams():
    opened: list[Sse] = []

    def open_(url: str, headers: dict, last_event_id: str | None = None) -> Sse:
        extra = {"Last-Event-ID": last_event_id} if last_event_id else {}
        opened.append(Sse(url, headers | extra))
        return opened[-1]

    yield open_
    for stream in opened:
        stream.close()


def _joined(server: LiveServer, *, feed: bool, key: str) -> None:
    """Until the hub has the stream in its windows (a feed stream sends nothing on connect)."""
    joined = server.app.state.live._feed if feed else server.app.state.live._bell
    deadline = time.monotonic() + 5
    while not joined.get(key):
        assert time.monotonic() < deadline, "the stream never joined"
        time.sleep(0.01)


def _bell(world: World, user: str, *, patient: str | None = "p-1") -> uuid.UUID:
    return world.notification(user, world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient=patient))


def test_a_committed_bell_row_arrives_within_a_second_as_the_rest_item(server, streams, client, world: World):
    world.user("dr", "physician")
    world.on_team("p-1", "dr")
    headers = world.headers("dr", "physician")
    stream = streams(f"{server.url}/v1/notifications/stream", headers)
    assert stream.next()[0::2] == ("unread-count", {"unread": 0, "capped": False})
    committed = time.monotonic()
    nid = _bell(world, "dr")
    name, event_id, item = stream.next("notification", timeout=1.0)
    assert time.monotonic() - committed < 1.0
    assert item == client.get("/v1/notifications", headers=headers).json()["items"][0]
    assert item["notification_id"] == str(nid) and item["event_title"] == "something happened"
    assert stream.next()[0::2] == ("unread-count", {"unread": 1, "capped": False})
    assert stream.status == 200


def test_entries_older_than_the_bell_window_are_neither_counted_nor_sent_as_in_rest(server, streams, client, world):
    """The default window: as many days as retention keeps the organization's bell (90)."""
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    long_ago = datetime.now(timezone.utc) - timedelta(days=100)

    def old_bell() -> uuid.UUID:
        return world.notification(
            "dr", world.event("LAB_RESULT_RECEIVED", at=long_ago), created=datetime.now(timezone.utc)
        )

    old_bell()
    recent = _bell(world, "dr")
    rest = client.get("/v1/notifications", headers=headers).json()
    assert [i["notification_id"] for i in rest["items"]] == [str(recent)] and rest["unread"]["count"] == 1
    stream = streams(f"{server.url}/v1/notifications/stream", headers)
    assert stream.next()[0::2] == ("unread-count", {"unread": 1, "capped": False})
    old_bell()  # arrives late, for an event older than the window
    newer = _bell(world, "dr")
    # the count may come first: a cycle that read only the old row's change counts after newer committed
    notification, count = sorted((stream.next("notification", "unread-count") for _ in range(2)), key=lambda e: e[0])
    assert notification[2]["notification_id"] == str(newer)
    assert count[2] == {"unread": 2, "capped": False}


def test_read_and_acknowledge_send_the_update_and_the_count(server, streams, client, world: World, db):
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    first, second = _bell(world, "dr"), _bell(world, "dr")
    stream = streams(f"{server.url}/v1/notifications/stream", headers)
    assert stream.next()[2] == {"unread": 2, "capped": False}
    read_at = client.post(f"/v1/notifications/{first}/read", headers=headers).json()["read_at"]
    name, _, data = stream.next("notification-updated")
    assert (name, data) == (
        "notification-updated",
        {"notification_id": str(first), "read_at": read_at, "acknowledgement": None},
    )
    assert stream.next()[0::2] == ("unread-count", {"unread": 1, "capped": False})
    with db.begin() as conn:  # an alert's notification, answered (the API's acknowledge writes these columns)
        conn.execute(text("UPDATE user_notifications SET alert_step = 0 WHERE notification_id = :n"), {"n": second})
        conn.execute(
            text("UPDATE user_notifications SET acknowledged_at = now() WHERE notification_id = :n"), {"n": second}
        )
    name, _, data = stream.next("notification-updated")
    assert data["acknowledgement"] == {"status": "acknowledged", "step": 0}
    assert data["read_at"] is None


def _open(db, nid_world: World, user: str):
    """A transaction that has inserted a bell row and not committed yet."""
    conn = db.connect()
    tx = conn.begin()
    event_id = nid_world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1")
    from processors.notifications.ids import notification_id

    nid = notification_id(event_id, nid_world.uid(user))
    conn.execute(
        text(
            "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, "
            "priority, reason, patient_id, occurred_at) VALUES (:n, :u, :o, :e, 'LAB_RESULT_RECEIVED', 'NORMAL', "
            "'care_team', :p, (SELECT occurred_at FROM activity_events WHERE event_id = :e))"
        ),
        {"n": nid, "u": nid_world.uid(user), "o": nid_world.org, "e": event_id, "p": nid_world.uid("p-1")},
    )
    return conn, tx, nid


def test_reconnect_receives_exactly_what_it_missed_even_out_of_commit_order(server, streams, world: World, db):
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    url = f"{server.url}/v1/notifications/stream"
    stream = streams(url, headers)
    _, position, _ = stream.next("unread-count")
    # Live: A writes first, B commits first; B waits for A (the watermark), then both, in xid order.
    conn_a, tx_a, a = _open(db, world, "dr")
    conn_b, tx_b, b = _open(db, world, "dr")
    tx_b.commit()
    tx_a.commit()
    got = [stream.next("notification")[2]["notification_id"] for _ in range(2)]
    assert got == [str(a), str(b)]
    _, position, _ = stream.next("unread-count")
    stream.close()
    # Disconnected: C writes first, D commits first, and one more plain commit.
    conn_c, tx_c, c = _open(db, world, "dr")
    conn_d, tx_d, d = _open(db, world, "dr")
    tx_d.commit()
    tx_c.commit()
    e = _bell(world, "dr")
    for conn in (conn_a, conn_b, conn_c, conn_d):
        conn.close()
    again = streams(url, headers, last_event_id=position)
    missed = [again.next("notification")[2]["notification_id"] for _ in range(3)]
    assert missed == [str(c), str(d), str(e)]
    assert again.next("unread-count")[2] == {"unread": 5, "capped": False}
    f = _bell(world, "dr")
    assert again.next("notification")[2]["notification_id"] == str(f)  # nothing repeated before it


def test_a_replica_serves_the_reconnect(api_settings, streams, world: World):
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    first = LiveServer(api_settings)
    stream = streams(f"{first.url}/v1/notifications/stream", headers)
    stream.next("unread-count")
    a = _bell(world, "dr")
    _, position, item = stream.next("notification")
    assert item["notification_id"] == str(a)
    first.stop()  # the replica goes away; the client's stream ends
    assert stream.ended.wait(10)
    b = _bell(world, "dr")
    second = LiveServer(api_settings)
    try:
        again = streams(f"{second.url}/v1/notifications/stream", headers, last_event_id=position)
        assert again.next("notification")[2]["notification_id"] == str(b)
        assert again.next()[0::2] == ("unread-count", {"unread": 2, "capped": False})
    finally:
        second.stop()


def test_other_users_and_organizations_never_appear(server, streams, world: World, db):
    world.user("dr", "physician")
    world.user("nurse", "nurse")
    other = World(db)
    other.user("dr", "physician", org=other.org)
    stream = streams(f"{server.url}/v1/notifications/stream", world.headers("dr", "physician"))
    stream.next("unread-count")
    _bell(world, "nurse")
    # The same user id in another organization: a token for this organization never sees it.
    other_event = other.event("LAB_RESULT_RECEIVED", visibility="clinical_staff")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, "
                "priority, reason, occurred_at) VALUES (:n, :u, :o, :e, 'LAB_RESULT_RECEIVED', 'NORMAL', 'care_team', "
                "(SELECT occurred_at FROM activity_events WHERE event_id = :e))"
            ),
            {"n": uuid.uuid4(), "u": world.uid("dr"), "o": other.org, "e": other_event},
        )
    mine = _bell(world, "dr")
    assert stream.next("notification")[2]["notification_id"] == str(mine)
    assert stream.events.empty() or stream.next()[0] == "unread-count"


def test_an_expired_token_closes_the_stream(server, streams, world: World):
    world.user("dr", "physician")
    stream = streams(f"{server.url}/v1/notifications/stream", world.headers("dr", "physician", ttl_s=2))
    stream.next("unread-count")
    assert stream.ended.wait(5)


def test_a_too_old_or_unknown_last_event_id_gets_a_reset(server, streams, world: World, db):
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    url = f"{server.url}/v1/notifications/stream"
    old = streams(url, headers)
    _, position, _ = old.next("unread-count")
    old.close()
    _bell(world, "dr")
    with db.begin() as conn:  # what pruning past the replay window does: the horizon moves past the id
        conn.execute(text("UPDATE live_horizon SET xid = pg_snapshot_xmin(pg_current_snapshot())"))
    expired = streams(url, headers, last_event_id=position)
    name, reset_id, data = expired.next()
    assert (name, data) == ("reset", {"reason": "expired"})
    later = _bell(world, "dr")  # the stream goes on live from the reset's id
    assert expired.next("notification")[2]["notification_id"] == str(later)
    for bad in ("not-an-id", "99999999999999-1"):
        assert streams(url, headers, last_event_id=bad).next()[0::2] == ("reset", {"reason": "unknown"})


def test_pruning_drops_changes_past_the_window_and_moves_the_horizon(db):
    import asyncio

    from psycopg import AsyncConnection

    from api.live.changes import prune
    from api.live.install import conninfo

    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO live_marks (at, xid) VALUES (now() - interval '2 hours', pg_snapshot_xmin(pg_current_snapshot()))"
            )
        )
        mark = conn.execute(text("SELECT max(xid)::text FROM live_marks")).scalar_one()

    async def run() -> int:
        async with await AsyncConnection.connect(
            conninfo(str(db.url.render_as_string(hide_password=False))), autocommit=True
        ) as conn:
            return await prune(conn, replay_s=3600)

    asyncio.run(run())
    with db.connect() as conn:
        assert conn.execute(text("SELECT xid::text FROM live_horizon")).scalar_one() == mark
        assert (
            conn.execute(
                text("SELECT count(*) FROM live_changes WHERE xid < CAST(:m AS xid8)"), {"m": mark}
            ).scalar_one()
            == 0
        )


def test_the_feed_stream_sends_exactly_what_the_feed_shows_each_caller(server, streams, client, world: World, db):
    world.user("dr", "physician")
    world.user("desk", "front_desk")
    world.on_team("p-1", "dr")
    other = World(db)
    other.user("dr", "physician", org=other.org)
    callers = {"dr": world.headers("dr", "physician"), "desk": world.headers("desk", "front_desk")}
    opened = {name: streams(f"{server.url}/v1/feed/stream", h) for name, h in callers.items()}
    for _ in opened:
        _joined(server, feed=True, key=world.org)
    deadline = time.monotonic() + 5
    while len(server.app.state.live._feed.get(world.org, ())) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    other.event("APPOINTMENT_SCHEDULED", visibility="all_members", org=other.org)
    for visibility, patient in [
        ("all_members", None),
        ("all_members", "p-1"),
        ("all_members", "p-2"),
        ("clinical_staff", "p-1"),
        ("clinical_staff", "p-2"),
        ("actor_and_supervisors", None),
        (None, None),
    ]:
        world.event("LAB_RESULT_RECEIVED", visibility=visibility, patient=patient, at=at(1))
    last = world.event("APPOINTMENT_SCHEDULED", visibility="all_members", at=at(2))
    for name, headers in callers.items():
        expected = client.get("/v1/feed?limit=50", headers=headers).json()["items"]
        received = []
        while not received or received[-1]["event_id"] != str(last):
            received.append(opened[name].next("feed-item")[2])
        key = lambda item: item["event_id"]  # noqa: E731
        assert sorted(received, key=key) == sorted(expected, key=key), name
    assert {i["patient_id"] for i in received} == {None, world.uid("p-1"), world.uid("p-2")}  # front desk: org-wide


def test_with_the_notify_switched_off_no_notification_is_sent_and_the_poll_delivers(server, streams, world, db):
    import psycopg

    from api.live.install import conninfo

    world.user("dr", "physician")
    stream = streams(f"{server.url}/v1/notifications/stream", world.headers("dr", "physician"))
    stream.next("unread-count")
    event_id = world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff")
    with psycopg.connect(conninfo(db.url.render_as_string(hide_password=False)), autocommit=True) as listener:
        listener.execute("LISTEN herald_live")
        with db.begin() as conn:
            conn.execute(text("SET LOCAL herald.live_notify = 'off'"))
            conn.execute(
                text(
                    "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, "
                    "priority, reason, occurred_at) VALUES (:n, :u, :o, :e, 'LAB_RESULT_RECEIVED', 'NORMAL', "
                    "'care_team', (SELECT occurred_at FROM activity_events WHERE event_id = :e))"
                ),
                {"n": uuid.uuid4(), "u": world.uid("dr"), "o": world.org, "e": event_id},
            )
        with db.begin() as conn:  # committed after it: notifications arrive in commit order
            conn.execute(text("SELECT pg_notify('herald_live', 'marker')"))
        payloads = []
        for notify in listener.notifies(timeout=10):
            payloads.append(notify.payload)
            if notify.payload == "marker":
                break
    assert payloads == ["marker"]
    assert stream.next("notification", timeout=3)[2]["event_id"] == str(event_id)  # found by the poll


def test_an_idle_stream_sends_heartbeat_comments(api_settings, world: World):
    world.user("dr", "physician")
    quick = LiveServer(api_settings.model_copy(update={"api_stream_heartbeat_s": 0.2}))
    try:
        headers = world.headers("dr", "physician")
        with httpx.Client(timeout=httpx.Timeout(5, read=5)) as http:
            with http.stream("GET", f"{quick.url}/v1/notifications/stream", headers=headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                comments = []
                for line in response.iter_lines():
                    if line.startswith(":"):
                        comments.append(line)
                    if len(comments) == 2:
                        break
        assert comments == [": heartbeat", ": heartbeat"]
    finally:
        quick.stop()


def test_the_feed_stream_resumes_from_its_last_event_id(server, streams, world: World):
    world.user("dr", "physician")
    headers = world.headers("dr", "physician")
    url = f"{server.url}/v1/feed/stream"
    stream = streams(url, headers)
    _joined(server, feed=True, key=world.org)
    seen = world.event("APPOINTMENT_SCHEDULED")
    _, position, item = stream.next("feed-item")
    assert item["event_id"] == str(seen)
    stream.close()
    missed = [world.event("APPOINTMENT_SCHEDULED", at=at(i)) for i in range(3)]
    again = streams(url, headers, last_event_id=position)
    assert [again.next("feed-item")[2]["event_id"] for _ in missed] == [str(e) for e in missed]
    later = world.event("APPOINTMENT_SCHEDULED")
    assert again.next("feed-item")[2]["event_id"] == str(later)
