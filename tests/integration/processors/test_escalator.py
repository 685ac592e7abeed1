"""The escalator on the real database and broker: steps fire on time, once, to the right people.

Each test builds its own organization with SQL (the directory tables are the contract the escalator
reads), raises alerts with the fan-out's own planning and sink, and drives the escalator with a clock
it passes, so a 5-minute wait takes no time; the SIGKILL test runs the real process on the wall clock.
"""

from __future__ import annotations

import json
import signal
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from api.auth import issue_token
from api.main import create_app
from api.settings import ApiSettings
from cli.processes import wait_until
from processors.escalator.app import Escalator
from processors.fanout.app import Fanout
from processors.notifications.ids import alert_notification_id
from processors.notifications_io.loader import DirectoryLoader
from sinks.postgres.engine import build_engine
from sinks.postgres.notifications import NotificationSink
from streams.clients import build_producer
from streams.errors import ProduceFailed
from streams.messages import PUSH_REQUEST, ActivityEvent, Priority
from streams.records import Record
from streams.serde import AvroSerde, SchemaStore
from streams.testing import FakeMessage
from streams.topics import PUSH
from tests.integration.helpers import decode_pushes, publish_events, query, read_all, start
from tests.ports import free_port

pytestmark = pytest.mark.integration
API_SECRET = "escalator-test-secret-" + "0123456789abcdef" * 3


class Org:
    """One test's organization: users with roles, one patient's care team, optional policy override."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.engine = build_engine(pipeline.settings.database_url)
        self.id = f"org-{uuid.uuid4().hex[:10]}"
        self.patient = f"{self.id}-p1"

    def uid(self, name: str) -> str:
        return f"{self.id}-{name}"

    def run(self, sql: str, params) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def users(self, **roles: str) -> None:
        self.run(
            "INSERT INTO directory_users (user_id, organization_id, roles, active, changed_at) "
            "VALUES (:u, :o, :r, true, now())",
            [{"u": self.uid(name), "o": self.id, "r": [role]} for name, role in roles.items()],
        )

    def care_team(self, *names: str, active: bool = True, changed_at: datetime | None = None) -> None:
        self.run(
            "INSERT INTO care_team_members (patient_id, user_id, organization_id, active, changed_at) "
            "VALUES (:p, :u, :o, :a, :t) ON CONFLICT (patient_id, user_id) DO UPDATE SET active = :a, changed_at = :t",
            [
                {
                    "p": self.patient,
                    "u": self.uid(n),
                    "o": self.id,
                    "a": active,
                    "t": changed_at or datetime.now(timezone.utc),
                }
                for n in names
            ],
        )

    def policy(self, event_type: str, policy: dict) -> None:
        self.run(
            "INSERT INTO escalation_policies (organization_id, event_type, policy, updated_by) VALUES (:o, :t, :p, 'test')",
            {"o": self.id, "t": event_type, "p": json.dumps(policy)},
        )

    def critical(self, **kw) -> ActivityEvent:
        base = dict(
            event_id=uuid.uuid4(),
            event_type="LAB_RESULT_CRITICAL",
            occurred_at=datetime.now(timezone.utc),
            organization_id=self.id,
            title="Potassium 6.9 for Mara Quill",
            patient_id=self.patient,
            practitioner_user_id=self.uid("doc"),
            actor_user_id=self.uid("lab"),
            resource_type="Observation",
            resource_id="obs-1",
            notify=True,
            priority=Priority.URGENT,
        )
        return ActivityEvent(**{**base, **kw})


def raise_alerts(org: Org, events: list[ActivityEvent], at: datetime) -> None:
    """What the fan-out does with these events at ``at``, in-process: plan (real loader) and write (real sink)."""
    fanout = Fanout(DirectoryLoader(org.engine), AvroSerde(PUSH_REQUEST, SchemaStore()), "unused", clock=lambda: at)
    outcome = fanout.handle([Record(e, FakeMessage("activity", 0, i, b"")) for i, e in enumerate(events)])
    NotificationSink(org.engine).write(outcome.writes)


def escalator(org: Org, clock, batch: int = 200) -> Escalator:
    settings = org.pipeline.settings
    serde = AvroSerde(PUSH_REQUEST, SchemaStore())
    return Escalator(
        org.engine, build_producer(settings), serde, settings.topic(PUSH), batch=batch, overdue_s=1800, clock=clock
    )


def notified(org: Org, event: ActivityEvent) -> dict[str, list[int]]:
    rows = query(
        org.pipeline,
        "SELECT user_id, alert_step FROM user_notifications WHERE event_id = :e AND alert_step IS NOT NULL",
        e=event.event_id,
    )
    found: dict[str, list[int]] = {}
    for user, step in rows:
        found.setdefault(user.removeprefix(org.id + "-"), []).append(step)
    return {u: sorted(s) for u, s in found.items()}


def history(org: Org, event: ActivityEvent) -> list[tuple]:
    rows = query(
        org.pipeline,
        "SELECT step, user_id, action, detail FROM alert_log WHERE event_id = :e ORDER BY id",
        e=event.event_id,
    )
    return [(s, (u or "").removeprefix(org.id + "-"), a, d) for s, u, a, d in rows]


def alert_pushes(org: Org) -> list:
    return [p for p in decode_pushes(read_all(org.pipeline, PUSH)) if p.organization_id == org.id]


@pytest.fixture
def org(pipeline) -> Org:
    made = Org(pipeline)
    made.users(
        doc="physician",
        nurse1="nurse",
        nurse2="nurse",
        clerk="front_desk",
        chief="medical_director",
        lab="lab_technician",
    )
    made.care_team("doc", "nurse1", "nurse2", "clerk")
    yield made
    made.engine.dispose()


def test_a_critical_result_pushes_the_practitioner_then_escalates_to_the_care_teams_clinicians(pipeline, org, tmp_path):
    event = org.critical()
    publish_events(pipeline, [event])
    start(pipeline, "processors.fanout", tmp_path)
    wait_until(lambda: notified(org, event) == {"doc": [0]}, 60, what="the fan-out to alert the practitioner")
    [raised_at] = query(pipeline, "SELECT raised_at FROM alerts WHERE event_id = :e", e=event.event_id)[0]
    [first] = alert_pushes(org)
    assert (first.user_id, first.kind, first.priority) == (org.uid("doc"), "alert", Priority.URGENT)

    escalator(org, lambda: raised_at + timedelta(seconds=299)).tick()
    assert notified(org, event) == {"doc": [0]}  # not yet due

    escalator(org, lambda: raised_at + timedelta(seconds=300)).tick()

    # The care team's clinical roles: not the front desk, and not the practitioner, whose step-0 alert still awaits.
    assert notified(org, event) == {"doc": [0], "nurse1": [1], "nurse2": [1]}
    assert sorted(p.user_id for p in alert_pushes(org) if p.kind == "alert") == sorted(
        [org.uid("doc"), org.uid("nurse1"), org.uid("nurse2")]
    )
    assert (1, "doc", "skipped", "already_notified") in history(org, event)
    [(due,)] = query(pipeline, "SELECT due_at FROM alert_steps WHERE event_id = :e AND step = 2", e=event.event_id)
    assert due == raised_at + timedelta(seconds=300 + 600)


def test_every_step_then_exhaustion_and_no_timer_left(pipeline, org):
    event = org.critical()
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, [event], t0)
    for minutes in (5, 15, 30):
        escalator(org, lambda m=minutes: t0 + timedelta(minutes=m)).tick()

    assert notified(org, event) == {"doc": [0], "nurse1": [1], "nurse2": [1], "chief": [2]}
    [(state,)] = query(pipeline, "SELECT state FROM alerts WHERE event_id = :e", e=event.event_id)
    assert state == "exhausted"
    assert history(org, event)[-1] == (3, "", "exhausted", None)
    pending = query(
        pipeline, "SELECT count(*) FROM alert_steps WHERE event_id = :e AND fired_at IS NULL", e=event.event_id
    )
    assert pending == [(0,)]
    escalator(org, lambda: t0 + timedelta(hours=2)).tick()
    assert len(history(org, event)) == 2  # the practitioner skipped at step 1, the exhaustion: nothing after


def test_an_acknowledged_alert_fires_no_later_step(pipeline, org):
    event = org.critical()
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, [event], t0)
    with org.engine.begin() as conn:  # what an acknowledgement leaves behind: the alert closed, its timers cancelled
        conn.execute(text("UPDATE alerts SET state = 'acknowledged' WHERE event_id = :e"), {"e": event.event_id})
        conn.execute(
            text("UPDATE alert_steps SET cancelled_at = now() WHERE event_id = :e AND fired_at IS NULL"),
            {"e": event.event_id},
        )

    escalator(org, lambda: t0 + timedelta(hours=1)).tick()
    assert notified(org, event) == {"doc": [0]}


@pytest.fixture
def api(pipeline):
    """The read API in-process on the session's database, and a way to call it as one of ``org``'s users."""
    settings = ApiSettings(
        env="dev",
        database_url=pipeline.settings.database_url,
        api_jwt_secret=SecretStr(API_SECRET),
        api_directory_cache_s=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def answer(api, org: Org, user: str, event: ActivityEvent, step: int, verb: str) -> dict:
    token = issue_token(API_SECRET, user_id=org.uid(user), organization_id=org.id, roles=["physician"])
    nid = alert_notification_id(event.event_id, org.uid(user), step)
    response = api.post(f"/v1/notifications/{nid}/{verb}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_an_acknowledgement_through_the_api_stops_every_later_step(pipeline, org, api):
    event = org.critical()
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, [event], t0)

    answer(api, org, "doc", event, 0, "acknowledge")
    for minutes in (5, 15, 30, 60):
        escalator(org, lambda m=minutes: t0 + timedelta(minutes=m)).tick()

    assert notified(org, event) == {"doc": [0]}
    assert query(pipeline, "SELECT state, acknowledged_by FROM alerts WHERE event_id = :e", e=event.event_id) == [
        ("acknowledged", org.uid("doc"))
    ]
    assert alert_pushes(org) == []


def test_a_decline_through_the_api_fires_the_next_step_at_the_next_tick(pipeline, org, api):
    event = org.critical()
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, [event], t0)

    answer(api, org, "doc", event, 0, "decline")
    escalator(org, lambda: datetime.now(timezone.utc)).tick()  # minutes before step 1's wait would run out

    assert notified(org, event) == {"doc": [0], "nurse1": [1], "nurse2": [1]}
    assert (0, "doc", "declined", None) in history(org, event)


def test_a_member_who_left_the_care_team_before_step_2_is_skipped_and_the_skip_is_recorded(pipeline, org):
    event = org.critical()
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, [event], t0)
    org.care_team("nurse2", active=False, changed_at=t0 + timedelta(minutes=1))

    escalator(org, lambda: t0 + timedelta(minutes=5)).tick()

    assert notified(org, event) == {"doc": [0], "nurse1": [1]}
    assert (1, "nurse2", "skipped", "left_care_team") in history(org, event)


def test_escalation_pushes_ignore_quiet_hours_and_type_filters_but_not_push_off(pipeline, org):
    org.run(
        "INSERT INTO notification_preferences (user_id, push_enabled, email_enabled, enabled_types, min_push_priority, "
        "quiet_hours_start, quiet_hours_end, timezone) VALUES "
        "(:quiet, true, false, '{}', 'URGENT', '00:00', '23:59', 'UTC'), (:off, false, false, '{}', 'LOW', NULL, NULL, NULL)",
        {"quiet": org.uid("nurse1"), "off": org.uid("nurse2")},
    )
    event = org.critical()
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, [event], t0)

    escalator(org, lambda: t0 + timedelta(minutes=5)).tick()

    assert notified(org, event) == {"doc": [0], "nurse1": [1], "nurse2": [1]}  # both get the bell row
    pushed = [p.user_id for p in alert_pushes(org)]
    assert org.uid("nurse1") in pushed and org.uid("nurse2") not in pushed


def test_a_broker_that_does_not_acknowledge_fires_nothing_and_the_step_fires_once_it_does(pipeline, org):
    event = org.critical()
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, [event], t0)
    gone = org.pipeline.settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    broker_away = Escalator(
        org.engine,
        build_producer(gone, **{"message.timeout.ms": 2000}),
        AvroSerde(PUSH_REQUEST, SchemaStore()),
        gone.topic(PUSH),
        batch=200,
        overdue_s=1800,
        clock=lambda: t0 + timedelta(minutes=5),
    )

    with pytest.raises(ProduceFailed):
        broker_away.tick()

    assert notified(org, event) == {"doc": [0]}  # the bell rows were rolled back with the step
    pending = "SELECT fired_at IS NULL FROM alert_steps WHERE event_id = :e AND step = 1"
    assert query(pipeline, pending, e=event.event_id) == [(True,)]
    escalator(org, lambda: t0 + timedelta(minutes=5)).tick()
    assert notified(org, event) == {"doc": [0], "nurse1": [1], "nurse2": [1]}
    assert sorted(p.user_id for p in alert_pushes(org)) == [org.uid("nurse1"), org.uid("nurse2")]


def test_two_replicas_racing_fire_each_step_once(pipeline, org):
    org.policy(
        "LAB_RESULT_CRITICAL",
        {
            "steps": [
                {"targets": [{"type": "practitioner"}], "wait_s": 60},
                {"targets": [{"type": "care_team"}], "wait_s": 60},
            ]
        },
    )
    events = [org.critical() for _ in range(120)]
    t0 = datetime.now(timezone.utc)
    raise_alerts(org, events, t0)
    replicas = [escalator(org, lambda: t0 + timedelta(minutes=1), batch=25) for _ in range(2)]
    barrier = threading.Barrier(2)
    fired: list[int] = []

    def run(replica: Escalator) -> None:
        barrier.wait()
        while (report := replica.tick()).fired:
            fired.append(report.fired)

    threads = [threading.Thread(target=run, args=(r,)) for r in replicas]
    [t.start() for t in threads]
    [t.join(120) for t in threads]

    assert sum(fired) >= len(events)  # the session's other alerts may be due too
    ids = [p.notification_id for p in alert_pushes(org)]  # raise_alerts produced none: these are step 1's
    assert len(ids) == len(set(ids)) == len(events) * 3  # nurse1, nurse2, clerk: each pushed once per alert
    timers = query(
        pipeline,
        "SELECT count(*) FILTER (WHERE step = 1 AND fired_at IS NOT NULL), count(*) FILTER (WHERE step = 2) "
        "FROM alert_steps WHERE event_id = ANY(:ids)",
        ids=[e.event_id for e in events],
    )
    assert timers == [(len(events), len(events))]


def test_sigkill_of_the_escalator_mid_step_gives_exactly_one_set_of_step_2_notifications(pipeline, org, tmp_path):
    org.policy(
        "LAB_RESULT_CRITICAL",
        {
            "steps": [
                {"targets": [{"type": "practitioner"}], "wait_s": 1},
                {"targets": [{"type": "care_team"}], "wait_s": 3600},
            ]
        },
    )
    events = [org.critical() for _ in range(1500)]
    raise_alerts(org, events, datetime.now(timezone.utc))
    ids = [e.event_id for e in events]

    def step_1_fired() -> int:
        sql = "SELECT count(*) FROM alert_steps WHERE event_id = ANY(:ids) AND step = 1 AND fired_at IS NOT NULL"
        return query(pipeline, sql, ids=ids)[0][0]

    first = start(pipeline, "processors.escalator", tmp_path, HERALD_ESCALATOR_BATCH="10")
    wait_until(lambda: step_1_fired() > 0, 60, what="the escalator to fire its first steps")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert step_1_fired() < len(events), "killed before it finished, so some steps are redone or still due"

    start(pipeline, "processors.escalator", tmp_path)
    wait_until(lambda: step_1_fired() == len(events), 120, what="the restarted escalator to fire every step")

    rows = query(
        pipeline,
        "SELECT event_id, count(*) FROM user_notifications WHERE event_id = ANY(:ids) AND alert_step = 1 GROUP BY event_id",
        ids=ids,
    )
    assert sorted(n for _, n in rows) == [3] * len(events)
    pushed = {p.notification_id for p in alert_pushes(org) if p.user_id != org.uid("doc")}
    stored = {
        r[0]
        for r in query(
            pipeline,
            "SELECT notification_id FROM user_notifications WHERE event_id = ANY(:ids) AND alert_step = 1",
            ids=ids,
        )
    }
    assert pushed == stored  # every step-2 notification pushed; a redone step re-sends the same ids, no new ones
