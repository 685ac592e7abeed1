"""Keyset pagination of the feed and the timeline, and the feed's filters."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests.integration.api.conftest import World, at

pytestmark = pytest.mark.integration


def _walk(client, path: str, headers: dict, between_pages=lambda page: None) -> list[str]:
    seen, cursor, page = [], None, 0
    while True:
        response = client.get(path + (f"&cursor={cursor}" if cursor else ""), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["event_id"] for item in body["items"]]
        cursor, page = body["next_cursor"], page + 1
        if cursor is None:
            return seen
        between_pages(page)


def test_walking_the_cursor_while_events_arrive_returns_every_older_event_exactly_once(client, world: World):
    """Given 300 events, 40 of them sharing one timestamp (ties broken by id), when the client walks
    the feed 23 at a time while new events (newer, and late ones with old timestamps) keep arriving,
    then every event that existed before the walk is returned exactly once, newest first."""
    world.user("admin", "admin")
    rng = random.Random(5)
    before = {str(world.event(at=at(rng.randrange(0, 5000) if i >= 40 else 2500))) for i in range(300)}

    def arrive(page: int) -> None:
        world.event(at=at(10_000 + page))  # newer than the walk's start: never on later pages
        world.event(at=at(rng.randrange(0, 5000)))  # late: older timestamp, may or may not be on a later page

    seen = _walk(client, "/v1/feed?limit=23", world.headers("admin", "admin"), arrive)
    assert len(seen) == len(set(seen)), "an event was returned twice"
    assert before <= set(seen)


def test_pages_are_newest_first_with_ties_broken_by_id(client, world: World):
    world.user("admin", "admin")
    ids = [world.event(at=at(1)) for _ in range(7)] + [world.event(at=at(2))]
    seen = _walk(client, "/v1/feed?limit=3", world.headers("admin", "admin"))
    assert seen == [str(ids[-1])] + sorted((str(i) for i in ids[:-1]), reverse=True)


def test_timeline_pages_the_same_way(client, world: World):
    world.user("dr", "physician")
    world.on_team("p-1", "dr")
    mine = [str(world.event(patient="p-1", at=at(i))) for i in range(25)]
    world.event(patient="p-2", at=at(3))
    seen = _walk(client, f"/v1/patients/{world.uid('p-1')}/timeline?limit=4", world.headers("dr", "physician"))
    assert seen == mine[::-1]


def test_filters_since_until_event_type_and_skip(client, world: World):
    world.user("admin", "admin")
    a = [world.event("APPOINTMENT_SCHEDULED", at=at(i)) for i in range(10)]
    b = [world.event("ANNOUNCEMENT", at=at(i + 0.5)) for i in range(10)]
    headers = world.headers("admin", "admin")

    def ids(query: str) -> list[str]:
        response = client.get(f"/v1/feed?limit=200&{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [item["event_id"] for item in response.json()["items"]]

    assert ids("event_type=ANNOUNCEMENT") == [str(e) for e in reversed(b)]
    assert set(ids("event_type=ANNOUNCEMENT&event_type=APPOINTMENT_SCHEDULED")) == {str(e) for e in a + b}
    since, until = at(3).isoformat(), at(5).isoformat()
    assert ids(f"event_type=APPOINTMENT_SCHEDULED&since={since}&until={until}".replace("+", "%2B")) == [
        str(a[4]),
        str(a[3]),
    ]
    naive = (at(8) - timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert ids(f"event_type=APPOINTMENT_SCHEDULED&since={naive}") == [str(a[9]), str(a[8])]  # naive = UTC
    assert ids("event_type=ANNOUNCEMENT&skip=8") == [str(b[1]), str(b[0])]


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("skip=-1", "skip"),
        ("since=yesterday", "since"),
        ("cursor=" + "x" * 300, "cursor"),
    ],
)
def test_bad_paging_parameters_are_422_naming_the_field(client, world: World, query, field):
    response = client.get(f"/v1/feed?{query}", headers=world.headers("admin", "admin"))
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


def test_default_limit_is_50(client, world: World):
    world.user("admin", "admin")
    for i in range(55):
        world.event(at=at(i))
    body = client.get("/v1/feed", headers=world.headers("admin", "admin")).json()
    assert len(body["items"]) == 50 and body["next_cursor"]
