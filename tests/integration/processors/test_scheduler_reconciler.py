"""The scheduler (one digest per user, replicas never double-release) and the reconciler (never double-notifies)."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from processors.notifications_io.loader import DirectoryLoader
from processors.reconciler.__main__ import build as build_reconciler
from processors.reconciler.settings import ReconcilerSettings
from processors.scheduler.app import Scheduler
from sinks.postgres.engine import build_engine
from streams.clients import build_producer
from streams.messages import PUSH_REQUEST, DirectoryChange
from streams.serde import AvroSerde, SchemaStore
from streams.topics import PUSH
from tests.integration.helpers import decode_pushes, query, read_all, set_preferences
from tests.integration.processors.test_fanout import load_directory

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


def insert_held(engine, org: str, user: str, patient: str, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO held_notifications (notification_id, user_id, organization_id, event_id, event_type, priority, "
                "reason, patient_id, occurred_at, release_at) VALUES (:id, :u, :o, :id, 'LAB_RESULT_RECEIVED', 'NORMAL', "
                "'care_team', :p, :t, :t)"
            ),
            [{"id": i, "u": user, "o": org, "p": patient, "t": NOW - timedelta(minutes=1)} for i in ids],
        )
    return ids


def scheduler_for(pipeline) -> Scheduler:
    engine = build_engine(pipeline.settings.database_url)
    serde = AvroSerde(PUSH_REQUEST, SchemaStore())
    return Scheduler(engine, DirectoryLoader(engine), build_producer(pipeline.settings), serde, pipeline.topic(PUSH))


def test_two_scheduler_replicas_release_one_digest_per_user_and_drop_what_is_no_longer_wanted(pipeline, tmp_path):
    org = f"o-{uuid.uuid4().hex[:6]}"
    users = [f"{org}-u{i}" for i in range(30)]
    gone = f"{org}-gone"
    load_directory(
        pipeline,
        tmp_path,
        [DirectoryChange("user", org, u, NOW) for u in users]
        + [DirectoryChange("user", org, gone, NOW, active=False)]
        + [DirectoryChange("care_team_member", org, u, NOW, patient_id=f"{org}-p") for u in users + [gone]],
    )
    set_preferences(pipeline, [{"user_id": u, "min_push_priority": "NORMAL"} for u in users + [gone]])
    engine = build_engine(pipeline.settings.database_url)
    for u in users:
        insert_held(engine, org, u, f"{org}-p", 3)
    insert_held(engine, org, gone, f"{org}-p", 2)
    replicas = [scheduler_for(pipeline) for _ in range(2)]
    barrier = threading.Barrier(2)
    reports = []

    def tick(s):
        barrier.wait()
        reports.append(s.tick())

    threads = [threading.Thread(target=tick, args=(s,)) for s in replicas]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    reports += [r.tick() for r in replicas]  # anything a replica skipped because the other held it

    digests = decode_pushes(read_all(pipeline, PUSH))
    assert sorted(d.user_id for d in digests) == sorted(users)
    assert all(d.kind == "digest" and d.digest_count == 3 for d in digests)
    outcomes = dict(
        query(
            pipeline,
            "SELECT outcome, count(*) FROM held_notifications WHERE organization_id = :o GROUP BY outcome",
            o=org,
        )
    )
    assert outcomes == {"digest": 90, "dropped": 2}
    assert sum(r.digests for r in reports) == 30


def test_the_reconciler_fans_out_a_stuck_event_once_and_never_again(pipeline, tmp_path):
    org = f"o-{uuid.uuid4().hex[:6]}"
    doc, nurse, patient = f"{org}-doc", f"{org}-nurse", f"{org}-p"
    load_directory(
        pipeline,
        tmp_path,
        [
            DirectoryChange("user", org, doc, NOW, roles=("physician",)),
            DirectoryChange("user", org, nurse, NOW, roles=("nurse",)),
            DirectoryChange("care_team_member", org, doc, NOW, patient_id=patient),
            DirectoryChange("care_team_member", org, nurse, NOW, patient_id=patient),
        ],
    )
    event_id = uuid.uuid4()
    engine = build_engine(pipeline.settings.database_url)
    with engine.begin() as conn:  # persisted but never fanned out (say the fan-out group was down)
        conn.execute(
            text(
                "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, actor_user_id, "
                "patient_id, title, notify, visibility, received_at) VALUES (:e, 'LAB_RESULT_RECEIVED', 'URGENT', :t, :o, "
                "NULL, :p, 'Critical potassium', true, 'clinical_staff', :t)"
            ),
            {"e": event_id, "t": NOW - timedelta(hours=1), "o": org, "p": patient},
        )
    settings = ReconcilerSettings(
        **{
            k: getattr(pipeline.settings, k)
            for k in ("kafka_bootstrap", "database_url", "topic_prefix", "group_prefix")
        },
        reconciler_grace_s=60,
    )
    reconciler = build_reconciler(settings)

    passes = [reconciler.tick()]  # the session's database is shared: other tests' unsent events come along
    while passes[-1]:
        passes.append(reconciler.tick())
    again = reconciler.tick()

    pushes = [p for p in decode_pushes(read_all(pipeline, PUSH)) if p.event_id == event_id]
    assert passes[0] >= 1 and again == 0
    assert sorted(p.user_id for p in pushes) == [doc, nurse]
    assert query(pipeline, "SELECT count(*) FROM user_notifications WHERE event_id = :e", e=event_id)[0][0] == 2
    assert query(
        pipeline, "SELECT notification_sent_at IS NOT NULL FROM activity_events WHERE event_id = :e", e=event_id
    )[0][0]


def test_the_reconciler_raises_the_alert_of_a_stuck_critical_result_with_its_first_step(pipeline):
    org = f"o-{uuid.uuid4().hex[:6]}"
    doc, patient, event_id = f"{org}-doc", f"{org}-p", uuid.uuid4()
    engine = build_engine(pipeline.settings.database_url)
    with engine.begin() as conn:  # the directory as the directory processor leaves it, and an event never fanned out
        conn.execute(
            text(
                "INSERT INTO directory_users (user_id, organization_id, roles, active, changed_at) "
                "VALUES (:u, :o, '{physician}', true, :t)"
            ),
            {"u": doc, "o": org, "t": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, "
                "patient_id, practitioner_user_id, title, notify, visibility, received_at) VALUES (:e, "
                "'LAB_RESULT_CRITICAL', 'URGENT', :t, :o, :p, :d, 'Critical potassium', true, 'clinical_staff', :t)"
            ),
            {"e": event_id, "t": NOW - timedelta(hours=1), "o": org, "p": patient, "d": doc},
        )
    settings = ReconcilerSettings(
        **{
            k: getattr(pipeline.settings, k)
            for k in ("kafka_bootstrap", "database_url", "topic_prefix", "group_prefix")
        },
        reconciler_grace_s=60,
    )
    reconciler = build_reconciler(settings)
    while reconciler.tick():
        pass

    [push] = [p for p in decode_pushes(read_all(pipeline, PUSH)) if p.event_id == event_id]
    assert (push.user_id, push.kind) == (doc, "alert")
    steps = query(
        pipeline, "SELECT step, fired_at IS NOT NULL FROM alert_steps WHERE event_id = :e ORDER BY step", e=event_id
    )
    assert steps == [(0, True), (1, False)]  # step 0 fired with the bell row, step 1 waiting for the escalator
    assert query(pipeline, "SELECT user_id, alert_step FROM user_notifications WHERE event_id = :e", e=event_id) == [
        (doc, 0)
    ]


def test_the_reconciler_sets_aside_an_event_whose_fan_out_the_database_refuses_and_does_the_rest(
    pipeline, tmp_path, monkeypatch
):
    import psycopg

    import processors.reconciler.app as reconciler_app
    from streams.topics import ACTIVITY_DLQ

    org = f"o-{uuid.uuid4().hex[:6]}"
    doc, patient = f"{org}-doc", f"{org}-p"
    load_directory(
        pipeline,
        tmp_path,
        [
            DirectoryChange("user", org, doc, NOW, roles=("physician",)),
            DirectoryChange("care_team_member", org, doc, NOW, patient_id=patient),
        ],
    )
    ids = [uuid.uuid4() for _ in range(5)]
    poisoned = ids[2]
    engine = build_engine(pipeline.settings.database_url)
    with engine.begin() as conn:
        for event_id in ids:
            conn.execute(
                text(
                    "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, "
                    "patient_id, title, notify, visibility, received_at) VALUES (:e, 'LAB_RESULT_RECEIVED', 'URGENT', "
                    ":t, :o, :p, 'Critical potassium', true, 'clinical_staff', :t)"
                ),
                {"e": event_id, "t": NOW - timedelta(hours=1), "o": org, "p": patient},
            )
    real_write = reconciler_app.write_rows

    def refuses_the_poisoned_event(cur, writes):  # as if one event's rows could not be stored
        if any(row[0] == poisoned for row in writes.events):
            raise psycopg.errors.StringDataRightTruncation("value too long for type character varying(64)")
        real_write(cur, writes)

    monkeypatch.setattr(reconciler_app, "write_rows", refuses_the_poisoned_event)
    settings = ReconcilerSettings(
        **{
            k: getattr(pipeline.settings, k)
            for k in ("kafka_bootstrap", "database_url", "topic_prefix", "group_prefix")
        },
        reconciler_grace_s=60,
    )
    reconciler = build_reconciler(settings)

    while reconciler.tick():
        pass

    sent = dict(
        query(
            pipeline,
            "SELECT event_id, notification_sent_at IS NOT NULL FROM activity_events WHERE event_id = ANY(:ids)",
            ids=ids,
        )
    )
    bell = {
        e for (e,) in query(pipeline, "SELECT event_id FROM user_notifications WHERE event_id = ANY(:ids)", ids=ids)
    }
    dead = [m for m in read_all(pipeline, ACTIVITY_DLQ)]
    assert all(sent.values())  # the four fanned out, and the poisoned one set aside: no pass retries it
    assert bell == set(ids) - {poisoned}
    assert len(dead) == 1 and b"value too long" in dict(dead[0].headers())["herald.error.reason"]
    assert reconciler.tick() == 0
