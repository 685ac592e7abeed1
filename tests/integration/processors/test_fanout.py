"""Directory, fan-out, scheduler and reconciler against the real Kafka and Postgres."""

from __future__ import annotations

import random
import signal
import uuid
from datetime import datetime, time, timedelta, timezone

import pytest

from cli.processes import wait_until
from processors.demo.traffic import build_world, demo_events
from processors.notifications.alerts import plan_step
from processors.notifications.decisions import PushAction, decide
from processors.notifications.directory import Directory
from processors.notifications.escalation_policy import policy_for
from processors.notifications.preferences import Preferences
from processors.notifications.recipients import resolve_recipients
from streams.messages import ActivityEvent, DirectoryChange, Priority
from streams.topics import DIRECTORY, PUSH
from tests.integration.helpers import (
    decode_pushes,
    lag,
    publish_directory,
    publish_events,
    query,
    read_all,
    set_preferences,
    start,
    topic_size,
)

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


def unique() -> str:
    """A fresh organization prefix: the session's database is shared, tests must not share people."""
    return f"{uuid.uuid4().hex[:6]}-"


def load_directory(pipeline, tmp_path, changes) -> None:
    publish_directory(pipeline, changes)
    start(pipeline, "processors.directory", tmp_path)
    wait_until(lambda: lag(pipeline, "directory", DIRECTORY) == 0, 60, what="the directory to load")


def quiet_all_day_prefs(users) -> tuple[list[dict], dict[str, Preferences]]:
    """Half the users push from NORMAL with quiet hours around now (in UTC), half push from NORMAL."""
    start_, end_ = (
        (NOW - timedelta(hours=2)).time().replace(microsecond=0),
        (NOW + timedelta(hours=2)).time().replace(microsecond=0),
    )
    rows, prefs = [], {}
    for i, u in enumerate(users):
        quiet = i % 2 == 0
        rows.append(
            {
                "user_id": u.user_id,
                "min_push_priority": "NORMAL",
                "timezone": "UTC",
                "quiet_hours_start": start_ if quiet else None,
                "quiet_hours_end": end_ if quiet else None,
            }
        )
        prefs[u.user_id] = Preferences(
            min_push_priority=Priority.NORMAL,
            timezone="UTC",
            quiet_hours_start=start_ if quiet else None,
            quiet_hours_end=end_ if quiet else None,
        )
    return rows, prefs


def expected_outcomes(events: list[ActivityEvent], directory: Directory, prefs: dict[str, Preferences]):
    bell, now, held = set(), set(), set()
    for e in events:
        policy = policy_for(e.organization_id, e.event_type, {}) if e.notify else None
        if policy is not None:  # an alert: its step 0 is the event's notifications
            first = plan_step(e, policy, 0, directory, prefs, notified_before=frozenset(), raised_at=NOW, now=NOW)
            bell |= {(e.event_id, b.user_id) for b in first.bell}
            now |= {(e.event_id, p.user_id) for p in first.pushes}
            continue
        for r in resolve_recipients(e, directory):
            d = decide(e, r, prefs.get(r.user_id, Preferences(timezone=directory.users[r.user_id].timezone)), NOW)
            if d.in_app or d.push != PushAction.NONE:
                bell.add((e.event_id, r.user_id))
            {PushAction.NOW: now, PushAction.HOLD: held}.get(d.push, set()).add((e.event_id, r.user_id))
    return bell, now, held


def test_given_demo_traffic_then_bell_pushes_and_holds_match_the_rules(pipeline, tmp_path):
    world = build_world(
        random.Random(5), NOW, organizations=2, users_per_org=25, patients_per_org=40, org_prefix=unique()
    )
    changes = world.directory(NOW)
    users = [c for c in changes if c.entity == "user"]
    rows, prefs = quiet_all_day_prefs(users[: len(users) // 2])
    set_preferences(pipeline, rows)
    load_directory(pipeline, tmp_path, changes)
    events = list(demo_events(world, random.Random(6), 1500, NOW - timedelta(minutes=5)))
    publish_events(pipeline, events)

    start(pipeline, "processors.fanout", tmp_path)
    wait_until(lambda: lag(pipeline, "fanout") == 0, 90, what="the fan-out to catch up")

    bell, now, held = expected_outcomes(events, Directory.from_changes(changes), prefs)
    ids = [e.event_id for e in events]
    got_bell = set(
        query(pipeline, "SELECT event_id, user_id FROM user_notifications WHERE event_id = ANY(:ids)", ids=ids)
    )
    got_held = set(
        query(pipeline, "SELECT event_id, user_id FROM held_notifications WHERE event_id = ANY(:ids)", ids=ids)
    )
    pushes = [(p.event_id, p.user_id) for p in decode_pushes(read_all(pipeline, PUSH))]
    assert len(bell) > 1000 and len(now) > 50 and len(held) > 50, "the scenario must exercise every path"
    assert got_bell == bell
    assert got_held == held
    assert sorted(pushes) == sorted(now)  # each (event, recipient) exactly once
    unsent = query(
        pipeline,
        "SELECT count(*) FROM activity_events WHERE event_id = ANY(:ids) AND notify AND notification_sent_at IS NULL",
        ids=ids,
    )[0][0]
    assert unsent == 0


def published_demo_traffic(pipeline, tmp_path, seed: int) -> set:
    """One organization's directory loaded, every user pushing from LOW up, 6,000 demo events
    published; returns the (event_id, user_id) push requests the rules owe for them."""
    world = build_world(
        random.Random(seed), NOW, organizations=1, users_per_org=30, patients_per_org=60, org_prefix=unique()
    )
    changes = world.directory(NOW)
    users = [c for c in changes if c.entity == "user"]
    set_preferences(pipeline, [{"user_id": u.user_id, "min_push_priority": "LOW"} for u in users])
    load_directory(pipeline, tmp_path, changes)
    events = list(demo_events(world, random.Random(seed + 1), 6000, NOW - timedelta(minutes=5)))
    publish_events(pipeline, events)
    prefs = {u.user_id: Preferences(min_push_priority=Priority.LOW) for u in users}
    _, expected, _ = expected_outcomes(events, Directory.from_changes(changes), prefs)
    return expected


def test_given_a_sigkill_mid_transaction_then_each_push_request_is_committed_exactly_once(pipeline, tmp_path):
    expected = published_demo_traffic(pipeline, tmp_path, seed=8)

    first = start(pipeline, "processors.fanout", tmp_path, HERALD_BATCH_MAX_RECORDS="100")
    wait_until(lambda: topic_size(pipeline, PUSH) > 0, 60, interval=0.05, what="the first push requests")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    start(pipeline, "processors.fanout", tmp_path)
    wait_until(lambda: lag(pipeline, "fanout") == 0, 120, what="the restarted fan-out to catch up")

    pushes = [(p.event_id, p.user_id) for p in decode_pushes(read_all(pipeline, PUSH))]
    assert len(pushes) == len(set(pushes)) == len(expected)
    assert set(pushes) == expected


def test_given_a_second_replica_joins_mid_stream_then_each_push_request_is_committed_exactly_once(pipeline, tmp_path):
    """The pipelined, transactional loop across a rebalance: a transaction may be open (batch produced,
    offsets not yet sent) when the first replica's partitions are revoked; still every request lands
    once and both replicas stop cleanly."""
    expected = published_demo_traffic(pipeline, tmp_path, seed=18)

    replicas = [start(pipeline, "processors.fanout", tmp_path, HERALD_BATCH_MAX_RECORDS="100", HERALD_INSTANCE_ID="a")]
    wait_until(lambda: topic_size(pipeline, PUSH) > 0, 60, interval=0.05, what="the first push requests")
    replicas.append(
        start(pipeline, "processors.fanout", tmp_path, HERALD_BATCH_MAX_RECORDS="100", HERALD_INSTANCE_ID="b")
    )
    wait_until(lambda: lag(pipeline, "fanout") == 0, 120, what="both replicas to catch up")

    pushes = [(p.event_id, p.user_id) for p in decode_pushes(read_all(pipeline, PUSH))]
    assert len(pushes) == len(set(pushes)) == len(expected)
    assert set(pushes) == expected
    for proc in replicas:
        proc.send_signal(signal.SIGTERM)
    assert [proc.wait(20) for proc in replicas] == [0, 0]


def test_an_urgent_announcement_to_10000_users_reaches_all_but_the_actor_and_push_off(pipeline, tmp_path):
    org = f"big-{uuid.uuid4().hex[:6]}"
    users = [DirectoryChange("user", org, f"{org}-u{i:05d}", NOW, roles=("nurse",)) for i in range(10_000)]
    push_off = [u.user_id for u in users[1:101]]
    quiet = [u.user_id for u in users[101:151]]
    set_preferences(
        pipeline,
        [{"user_id": u, "push_enabled": False} for u in push_off]
        + [
            {"user_id": u, "quiet_hours_start": time(0), "quiet_hours_end": time(23, 59), "min_push_priority": "LOW"}
            for u in quiet
        ],
    )
    load_directory(pipeline, tmp_path, users)
    event = ActivityEvent(
        event_id=uuid.uuid4(),
        event_type="ANNOUNCEMENT_URGENT",
        occurred_at=NOW,
        organization_id=org,
        title="Evacuate wing C",
        notify=True,
        actor_user_id=users[0].user_id,
    )
    publish_events(pipeline, [event])

    start(pipeline, "processors.fanout", tmp_path)
    wait_until(lambda: lag(pipeline, "fanout") == 0, 90, what="the announcement to fan out")

    pushes = decode_pushes(read_all(pipeline, PUSH))
    assert len(pushes) == 10_000 - 1 - len(push_off)
    assert not ({users[0].user_id} | set(push_off)) & {p.user_id for p in pushes}
    assert query(pipeline, "SELECT count(*) FROM held_notifications WHERE event_id = :e", e=event.event_id)[0][0] == 0


def test_fanout_before_persister_gives_the_same_row_marked_once(pipeline, tmp_path):
    world = build_world(
        random.Random(12), NOW, organizations=1, users_per_org=10, patients_per_org=5, org_prefix=unique()
    )
    load_directory(pipeline, tmp_path, world.directory(NOW))
    events = [e for e in demo_events(world, random.Random(13), 60, NOW) if e.notify][:20]
    publish_events(pipeline, events)
    ids = [e.event_id for e in events]
    start(pipeline, "processors.fanout", tmp_path)
    wait_until(lambda: lag(pipeline, "fanout") == 0, 60, what="the fan-out")
    marked = dict(
        query(pipeline, "SELECT event_id, notification_sent_at FROM activity_events WHERE event_id = ANY(:i)", i=ids)
    )

    start(pipeline, "processors.persister", tmp_path)
    wait_until(lambda: lag(pipeline, "persister") == 0, 60, what="the persister")

    after = dict(
        query(pipeline, "SELECT event_id, notification_sent_at FROM activity_events WHERE event_id = ANY(:i)", i=ids)
    )
    assert len(marked) == 20 and all(marked.values())
    assert after == marked
    titles = dict(query(pipeline, "SELECT event_id, title FROM activity_events WHERE event_id = ANY(:i)", i=ids))
    assert titles == {e.event_id: e.title for e in events}


def test_a_directory_tombstone_removes_the_membership(pipeline, tmp_path):
    org = f"o-{uuid.uuid4().hex[:6]}"
    member = DirectoryChange("care_team_member", org, f"{org}-u1", NOW, patient_id=f"{org}-p1")
    load_directory(pipeline, tmp_path, [DirectoryChange("user", org, f"{org}-u1", NOW), member])
    assert (
        query(pipeline, "SELECT count(*) FROM care_team_members WHERE patient_id = :p", p=member.patient_id)[0][0] == 1
    )

    publish_directory(pipeline, [(member.key, None)])
    wait_until(
        lambda: (
            query(pipeline, "SELECT count(*) FROM care_team_members WHERE patient_id = :p", p=member.patient_id)[0][0]
            == 0
        ),
        30,
        what="the tombstone to remove the membership",
    )
    assert query(pipeline, "SELECT count(*) FROM directory_users WHERE user_id = :u", u=f"{org}-u1")[0][0] == 1
