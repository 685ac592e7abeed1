"""The hub's hand-out rules without a database: ordering, filtering by recipient, bounded queues."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

from api.live.changes import CREATED, FEED, Change
from api.live.hub import LiveHub, Stream
from api.live.positions import Position
from processors.visibility import Viewer, ViewerFacts

T = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
DR = Viewer("dr", "org-1", frozenset({"physician"}))


def _hub(queue_max: int = 10) -> LiveHub:
    async def never():
        raise AssertionError("no database in these tests")

    return LiveHub(never, queue_max=queue_max)


def _stream(viewer: Viewer = DR, *, feed: bool = False, size: int = 10) -> Stream:
    stream = Stream(feed, viewer, ViewerFacts(), None, asyncio.Queue(maxsize=size))
    stream.offered = Position(100)
    return stream


def _bell_row(nid: uuid.UUID, user: str = "dr", org: str = "org-1") -> dict:
    return {
        "notification_id": nid,
        "user_id": user,
        "organization_id": org,
        "event_id": uuid.uuid4(),
        "event_type": "LAB_RESULT_RECEIVED",
        "priority": "NORMAL",
        "reason": "care_team",
        "patient_id": None,
        "resource_type": None,
        "resource_id": None,
        "occurred_at": T,
        "created_at": T,
        "read_at": None,
        "alert_step": None,
        "acknowledged_at": None,
        "declined_at": None,
        "alert_state": None,
        "e_title": "Potassium 6.8",
        "e_organization_id": "org-1",
        "e_visibility": "clinical_staff",
        "e_actor_user_id": None,
        "e_patient_id": None,
    }


def test_a_change_at_or_before_the_stream_position_is_not_handed_again():
    hub, stream = _hub(), _stream()
    nid = uuid.uuid4()
    rows = {nid: _bell_row(nid)}
    for position in (Position(99, 3), Position(100, 0), Position(100, 1), Position(100, 1)):
        hub._hand(stream, Change(position, CREATED, "org-1", "dr", nid), rows, {})
    assert stream.queue.qsize() == 1 and stream.offered == Position(100, 1)
    event = stream.queue.get_nowait()
    assert event.event == "notification" and event.data["event_title"] == "Potassium 6.8"


def test_a_bell_row_of_the_same_user_id_in_another_organization_is_not_handed():
    hub, stream = _hub(), _stream()
    nid = uuid.uuid4()
    hub._hand(stream, Change(Position(101, 1), CREATED, "org-2", "dr", nid), {nid: _bell_row(nid, org="org-2")}, {})
    assert stream.queue.empty() and stream.offered == Position(101, 1)


def test_the_event_title_follows_the_feed_rule_for_the_caller():
    hub, clerk = _hub(), _stream(Viewer("dr", "org-1", frozenset({"front_desk"})))
    nid = uuid.uuid4()
    hub._hand(clerk, Change(Position(101, 1), CREATED, "org-1", "dr", nid), {nid: _bell_row(nid)}, {})
    assert clerk.queue.get_nowait().data["event_title"] is None  # clinical_staff: not for front desk


def test_a_feed_item_the_caller_may_not_see_is_skipped():
    hub, stream = _hub(), _stream(Viewer("desk", "org-1", frozenset({"front_desk"})), feed=True)
    eid = uuid.uuid4()
    row = {
        "event_id": eid,
        "event_type": "LAB_RESULT_RECEIVED",
        "priority": "NORMAL",
        "occurred_at": T,
        "actor_user_id": None,
        "patient_id": "p-1",
        "encounter_id": None,
        "resource_type": None,
        "resource_id": None,
        "title": "t",
        "description": None,
        "visibility": "clinical_staff",
        "attributes": {},
        "organization_id": "org-1",
    }
    hub._hand(stream, Change(Position(101, 1), FEED, "org-1", None, eid), {}, {eid: row})
    assert stream.queue.empty()
    hub._hand(
        stream, Change(Position(101, 2), FEED, "org-1", None, eid), {}, {eid: row | {"visibility": "all_members"}}
    )
    assert stream.queue.get_nowait().data["event_id"] == str(eid)


def test_a_stream_whose_queue_is_full_is_reset_and_dropped_not_grown():
    hub, stream = _hub(), _stream(size=2)
    hub._bell["dr"].add(stream)
    for seq in range(1, 4):
        nid = uuid.uuid4()
        hub._hand(stream, Change(Position(101, seq), CREATED, "org-1", "dr", nid), {nid: _bell_row(nid)}, {})
    assert stream.reset == "client too slow"
    assert stream.queue.qsize() == 2 and "dr" not in hub._bell
    hub._hand(stream, Change(Position(102, 1), CREATED, "org-1", "dr", uuid.uuid4()), {}, {})
    assert stream.queue.qsize() == 2
