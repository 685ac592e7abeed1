"""Urgent alerts through the API: acknowledge and decline, the bell's acknowledgement, an alert's
history (JSON and FHIR), and escalation policy administration. Alerts are inserted with SQL as the
fan-out and the escalator write them: the tables are the contract."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from processors.notifications.escalation_policy import DEFAULT_POLICIES
from processors.notifications.ids import alert_notification_id
from tests.integration.api.conftest import World

pytestmark = pytest.mark.integration

CRITICAL = "LAB_RESULT_CRITICAL"
# The required bindings of Communication.status and .priority in FHIR R4 (fhir.resources checks the
# structure, types and cardinalities, not the codes).
EVENT_STATUS = {
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
}
REQUEST_PRIORITY = {"routine", "urgent", "asap", "stat"}
FIRST = DEFAULT_POLICIES[CRITICAL].to_json()
EACH_STEP = FIRST | {"acknowledgement": "each_step"}
EACH_RECIPIENT = FIRST | {"acknowledgement": "each_recipient"}


class AlertWorld(World):
    def alert(
        self,
        recipients: dict[int, list[str]],
        *,
        policy: dict = FIRST,
        state: str = "open",
        actor: str | None = None,
        patient: str | None = "p-1",
        occurred: datetime | None = None,
    ) -> tuple[uuid.UUID, dict[tuple[int, str], uuid.UUID]]:
        """An alert whose steps 0..max(recipients) fired, notifying ``recipients[step]``, with the next
        step's timer pending (unless it is closed)."""
        occurred = occurred or datetime.now(timezone.utc) - timedelta(seconds=42)
        event_id = self.event(CRITICAL, visibility="clinical_staff", patient=patient, actor=actor, at=occurred)
        latest = max(recipients)
        self._run(
            "INSERT INTO alerts (event_id, organization_id, event_type, priority, patient_id, actor_user_id, "
            "practitioner_user_id, resource_type, resource_id, occurred_at, raised_at, policy, state, latest_step, "
            "closed_at) VALUES (:e, :o, :t, 'URGENT', :p, :a, NULL, 'DiagnosticReport', 'dr-9', :at, :at, "
            "CAST(:policy AS jsonb), :state, :latest, CASE WHEN :open THEN NULL ELSE CAST(:at AS timestamptz) END)",
            e=event_id,
            o=self.org,
            t=CRITICAL,
            p=self.uid(patient) if patient else None,
            a=self.uid(actor) if actor else None,
            at=occurred,
            policy=json.dumps(policy),
            state=state,
            open=state == "open",
            latest=latest,
        )
        ids = {}
        for step in range(latest + 1):
            fired = occurred + timedelta(seconds=step)
            self._run(
                "INSERT INTO alert_steps (event_id, step, due_at, fired_at, notified) VALUES (:e, :s, :d, :d, :n)",
                e=event_id,
                s=step,
                d=fired,
                n=len(recipients.get(step, [])),
            )
            for name in recipients.get(step, []):
                user_id = self.uid(name)
                nid = ids[(step, name)] = alert_notification_id(event_id, user_id, step)
                self._run(
                    "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, "
                    "event_type, priority, reason, patient_id, occurred_at, created_at, alert_step) VALUES "
                    "(:n, :u, :o, :e, :t, 'URGENT', 'practitioner', :p, :at, :c, :s)",
                    n=nid,
                    u=user_id,
                    o=self.org,
                    e=event_id,
                    t=CRITICAL,
                    p=self.uid(patient) if patient else None,
                    at=occurred,
                    c=fired,
                    s=step,
                )
        if state == "open":
            self._run(
                "INSERT INTO alert_steps (event_id, step, due_at) VALUES (:e, :s, now() + interval '5 minutes')",
                e=event_id,
                s=latest + 1,
            )
        return event_id, ids

    def row(self, sql: str, **params):
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).one()

    def rows(self, sql: str, **params):
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).all()

    def pending(self, event_id: uuid.UUID):
        return self.rows(
            "SELECT step, due_at, due_at <= now() AS due FROM alert_steps WHERE event_id = :e "
            "AND fired_at IS NULL AND cancelled_at IS NULL",
            e=event_id,
        )

    def log(self, event_id: uuid.UUID):
        return [
            tuple(r)
            for r in self.rows(
                "SELECT step, user_id, action FROM alert_log WHERE event_id = :e ORDER BY id", e=event_id
            )
        ]


@pytest.fixture
def world(db) -> AlertWorld:
    w = AlertWorld(db)
    for name in ("dr", "nurse", "other"):
        w.user(name, "physician" if name != "nurse" else "nurse")
        w.on_team("p-1", name)
    w.user("director", "medical_director")
    return w


def acknowledged_count(event_type: str = CRITICAL) -> float:
    return REGISTRY.get_sample_value("herald_alert_acknowledged_seconds_count", {"event_type": event_type}) or 0.0


def acknowledged_sum(event_type: str = CRITICAL) -> float:
    return REGISTRY.get_sample_value("herald_alert_acknowledged_seconds_sum", {"event_type": event_type}) or 0.0


def post(client, world: AlertWorld, who: str, nid: uuid.UUID, action: str, role: str = "physician"):
    return client.post(f"/v1/notifications/{nid}/{action}", headers=world.headers(who, role))


# --- acknowledge -------------------------------------------------------------------------------------


def test_acknowledge_ends_the_alert_cancels_its_timer_and_is_idempotent(client, world):
    event_id, ids = world.alert({0: ["dr", "nurse"]})  # the event occurred 42 s ago
    before, seconds_before = acknowledged_count(), acknowledged_sum()
    first = post(client, world, "dr", ids[(0, "dr")], "acknowledge")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "acknowledged" and body["alert_state"] == "acknowledged" and body["step"] == 0
    assert body["declined_at"] is None and body["acknowledged_at"] is not None
    alert = world.row("SELECT state, acknowledged_by, closed_at FROM alerts WHERE event_id = :e", e=event_id)
    assert alert.state == "acknowledged" and alert.acknowledged_by == world.uid("dr") and alert.closed_at
    assert world.pending(event_id) == []
    assert (
        world.scalar("SELECT count(*) FROM alert_steps WHERE event_id = :e AND cancelled_at IS NOT NULL", e=event_id)
        == 1
    )
    assert world.log(event_id) == [(0, world.uid("dr"), "acknowledged")]
    assert acknowledged_count() == before + 1
    assert 42 <= acknowledged_sum() - seconds_before < 100  # event to acknowledgement

    again = post(client, world, "dr", ids[(0, "dr")], "acknowledge")
    assert again.status_code == 200 and again.json() == body
    assert world.log(event_id) == [(0, world.uid("dr"), "acknowledged")]
    assert acknowledged_count() == before + 1  # observed once per alert

    # The other recipient's answer now closes nothing, and their notification reads "closed" until they answer.
    bell = client.get("/v1/notifications", headers=world.headers("nurse", "nurse")).json()["items"]
    assert [i["acknowledgement"] for i in bell] == [{"status": "closed", "step": 0}]
    late = post(client, world, "nurse", ids[(0, "nurse")], "acknowledge", "nurse").json()
    assert late["status"] == "acknowledged" and late["alert_state"] == "acknowledged"
    assert world.scalar("SELECT acknowledged_by FROM alerts WHERE event_id = :e", e=event_id) == world.uid("dr")
    assert acknowledged_count() == before + 1


def test_only_the_recipient_may_answer_and_an_ordinary_notification_is_a_conflict(client, world):
    event_id, ids = world.alert({0: ["dr"]})
    for action in ("acknowledge", "decline"):
        assert post(client, world, "other", ids[(0, "dr")], action).status_code == 404
        assert post(client, world, "dr", uuid.uuid4(), action).status_code == 404
        assert post(client, world, "director", ids[(0, "dr")], action, "medical_director").status_code == 404
    ordinary = world.notification("dr", world.event(), event_type="APPOINTMENT_SCHEDULED")
    refused = post(client, world, "dr", ordinary, "acknowledge")
    assert refused.status_code == 409 and "acknowledgement" in refused.json()["message"]
    assert post(client, world, "dr", ordinary, "decline").status_code == 409
    assert world.scalar("SELECT state FROM alerts WHERE event_id = :e", e=event_id) == "open"
    assert world.log(event_id) == []


def test_each_step_needs_the_latest_steps_recipient(client, world):
    event_id, ids = world.alert({0: ["dr"], 1: ["nurse"]}, policy=EACH_STEP)
    early = post(client, world, "dr", ids[(0, "dr")], "acknowledge").json()
    assert early["status"] == "acknowledged" and early["alert_state"] == "open"
    assert len(world.pending(event_id)) == 1
    latest = post(client, world, "nurse", ids[(1, "nurse")], "acknowledge", "nurse").json()
    assert latest["alert_state"] == "acknowledged"
    assert world.pending(event_id) == []
    assert world.scalar("SELECT acknowledged_by FROM alerts WHERE event_id = :e", e=event_id) == world.uid("nurse")


def test_each_recipient_needs_everyone(client, world):
    event_id, ids = world.alert({0: ["dr", "nurse"]}, policy=EACH_RECIPIENT)
    assert post(client, world, "dr", ids[(0, "dr")], "acknowledge").json()["alert_state"] == "open"
    assert post(client, world, "nurse", ids[(0, "nurse")], "acknowledge", "nurse").json()["alert_state"] == (
        "acknowledged"
    )


def test_a_late_acknowledgement_of_an_exhausted_alert_is_recorded_and_ends_it(client, world):
    event_id, ids = world.alert({0: ["dr"]}, state="exhausted")
    world._run(
        "INSERT INTO alert_log (event_id, step, user_id, action, at) VALUES (:e, 1, NULL, 'exhausted', now())",
        e=event_id,
    )
    before = acknowledged_count()
    body = post(client, world, "dr", ids[(0, "dr")], "acknowledge").json()
    assert body["alert_state"] == "acknowledged" and body["status"] == "acknowledged"
    assert world.log(event_id) == [(1, None, "exhausted"), (0, world.uid("dr"), "acknowledged")]
    assert acknowledged_count() == before + 1


def test_an_acknowledgement_waits_for_the_alert_row_lock(client, world, db):
    """The answer locks the alert first: while another transaction (the escalator firing a step) holds
    it, the acknowledgement waits, holding no lock on the notification yet (so the two cannot deadlock),
    then sees that transaction's work."""
    event_id, ids = world.alert({0: ["dr"]})
    result: dict = {}
    with db.connect() as holder:
        holder.execute(text("SELECT 1 FROM alerts WHERE event_id = :e FOR UPDATE"), {"e": event_id})
        worker = threading.Thread(
            target=lambda: result.update(r=post(client, world, "dr", ids[(0, "dr")], "acknowledge"))
        )
        worker.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query LIKE '%FROM alerts%'"
        )
        for _ in range(500):
            if world.scalar(waiting):
                break
            threading.Event().wait(0.01)
        assert world.scalar(waiting) >= 1 and "r" not in result
        holder.execute(  # raises if the waiting acknowledgement had locked the notification first
            text("SELECT 1 FROM user_notifications WHERE notification_id = :n FOR UPDATE NOWAIT"),
            {"n": ids[(0, "dr")]},
        )
        holder.execute(text("UPDATE alerts SET latest_step = 1 WHERE event_id = :e"), {"e": event_id})
        holder.commit()
    worker.join(10)
    assert result["r"].status_code == 200 and result["r"].json()["alert_state"] == "acknowledged"


# --- decline -----------------------------------------------------------------------------------------


def test_decline_makes_the_next_step_due_now_and_is_idempotent(client, world):
    event_id, ids = world.alert({0: ["dr"]})
    assert [p.due for p in world.pending(event_id)] == [False]
    first = post(client, world, "dr", ids[(0, "dr")], "decline")
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "declined" and body["alert_state"] == "open" and body["acknowledged_at"] is None
    assert [p.due for p in world.pending(event_id)] == [True]
    assert world.log(event_id) == [(0, world.uid("dr"), "declined")]
    assert post(client, world, "dr", ids[(0, "dr")], "decline").json() == body
    # Declined, then acknowledged after all: the acknowledgement counts.
    assert post(client, world, "dr", ids[(0, "dr")], "acknowledge").json()["alert_state"] == "acknowledged"


def test_decline_after_acknowledging_is_a_conflict(client, world):
    event_id, ids = world.alert({0: ["dr", "nurse"]}, policy=EACH_RECIPIENT)
    post(client, world, "dr", ids[(0, "dr")], "acknowledge")
    refused = post(client, world, "dr", ids[(0, "dr")], "decline")
    assert refused.status_code == 409 and "acknowledged" in refused.json()["message"]
    assert (
        world.scalar("SELECT declined_at FROM user_notifications WHERE notification_id = :n", n=ids[(0, "dr")]) is None
    )


def test_a_decline_never_hurries_an_each_recipient_alert(client, world):
    event_id, ids = world.alert({0: ["dr", "nurse"]}, policy=EACH_RECIPIENT)
    assert post(client, world, "dr", ids[(0, "dr")], "decline").json()["status"] == "declined"
    assert [p.due for p in world.pending(event_id)] == [False]


# --- the bell ----------------------------------------------------------------------------------------


def test_the_bell_shows_each_alert_notifications_answer_and_filters_the_awaiting(client, world):
    headers = world.headers("dr", "physician")
    ordinary = world.notification("dr", world.event())
    awaiting = [world.alert({0: ["dr"]})[1][(0, "dr")] for _ in range(3)]
    answered_event, answered = world.alert({0: ["dr"]})
    post(client, world, "dr", answered[(0, "dr")], "decline")
    items = {
        i["notification_id"]: i["acknowledgement"]
        for i in client.get("/v1/notifications", headers=headers).json()["items"]
    }
    assert items[str(ordinary)] is None
    assert items[str(answered[(0, "dr")])] == {"status": "declined", "step": 0}
    assert all(items[str(n)] == {"status": "awaiting", "step": 0} for n in awaiting)

    page = client.get("/v1/notifications?awaiting_acknowledgement=true&limit=2", headers=headers).json()
    rest = client.get(f"/v1/notifications?awaiting_acknowledgement=true&cursor={page['next_cursor']}", headers=headers)
    listed = [i["notification_id"] for i in page["items"] + rest.json()["items"]]
    assert sorted(listed) == sorted(str(n) for n in awaiting)
    assert page["unread"]["count"] == 5  # the whole bell's, whatever the filter
    post(client, world, "dr", awaiting[0], "acknowledge")
    after = client.get("/v1/notifications?awaiting_acknowledgement=true&unread=true", headers=headers).json()
    assert sorted(i["notification_id"] for i in after["items"]) == sorted(str(n) for n in awaiting[1:])


# --- one alert ---------------------------------------------------------------------------------------


def _deliver(world: AlertWorld, nid: uuid.UUID, user: str, token: str, status: str) -> None:
    world._run(
        "INSERT INTO push_deliveries (notification_id, token, user_id, status, updated_at) VALUES (:n, :t, :u, :s, now())",
        n=nid,
        t=token,
        u=world.uid(user),
        s=status,
    )


def test_an_alerts_history_shows_steps_pushes_answers_and_skips(client, world):
    event_id, ids = world.alert({0: ["dr"], 1: ["nurse", "other"]}, actor="director")
    _deliver(world, ids[(0, "dr")], "dr", "tok-a", "failed")
    _deliver(world, ids[(0, "dr")], "dr", "tok-b", "sent")
    _deliver(world, ids[(1, "nurse")], "nurse", "tok-c", "failed")
    _deliver(world, ids[(1, "nurse")], "nurse", "tok-d", "retrying")
    world._run(
        "INSERT INTO alert_log (event_id, step, user_id, action, detail, at) VALUES "
        "(:e, 1, :u, 'skipped', 'inactive', now() - interval '1 second')",
        e=event_id,
        u=world.uid("gone"),
    )
    post(client, world, "other", ids[(1, "other")], "decline")
    post(client, world, "nurse", ids[(1, "nurse")], "acknowledge", "nurse")

    response = client.get(f"/v1/alerts/{event_id}", headers=world.headers("dr", "physician"))
    assert response.status_code == 200, response.text
    alert = response.json()
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == world.uid("nurse")
    assert alert["event_type"] == CRITICAL and alert["closed_at"] and alert["policy"] == FIRST
    assert "title" not in alert and "description" not in alert
    assert [s["step"] for s in alert["steps"]] == [0, 1, 2]
    step0, step1, timer = alert["steps"]
    (dr,) = step0["notified"]
    assert dr["user_id"] == world.uid("dr") and dr["notification_id"] == str(ids[(0, "dr")])
    assert dr["push"]["accepted"] is True and dr["push"]["accepted_at"] and dr["status"] == "closed"
    nurse, other = step1["notified"]
    assert nurse["push"] == {"accepted": False, "accepted_at": None, "statuses": ["failed", "retrying"]}
    assert nurse["status"] == "acknowledged" and nurse["acknowledged_at"]
    assert other["push"] == {"accepted": False, "accepted_at": None, "statuses": []}
    assert other["status"] == "declined" and other["declined_at"]
    assert step1["skipped"] == [{"user_id": world.uid("gone"), "reason": "inactive"}]
    assert timer["notified"] == [] and timer["cancelled_at"] and timer["fired_at"] is None
    assert [(h["action"], h["user_id"]) for h in alert["history"]] == [
        ("skipped", world.uid("gone")),
        ("declined", world.uid("other")),
        ("acknowledged", world.uid("nurse")),
    ]


def test_who_may_see_an_alert(client, world):
    world.user("actor", "physician")
    world.on_team("p-1", "actor")
    world.user("admin", "admin")
    world.user("off-team", "physician")  # a recipient who is not on the patient's care team
    world.user("clerk", "front_desk")
    event_id, _ = world.alert({0: ["dr", "off-team"]}, actor="actor")
    url = f"/v1/alerts/{event_id}"
    for who, role in (
        ("dr", "physician"),
        ("actor", "physician"),
        ("admin", "admin"),
        ("director", "medical_director"),
    ):
        assert client.get(url, headers=world.headers(who, role)).status_code == 200, who
        assert client.get(url + "/communications", headers=world.headers(who, role)).status_code == 200, who
    refused = [
        world.headers("nurse", "nurse"),  # on the care team, but neither recipient, actor nor supervisor
        world.headers("off-team", "physician"),  # a recipient without access to the patient
        world.headers("clerk", "front_desk"),  # organization-wide patient access, but no clinical events
        World(world.db).headers("admin", "admin"),  # another organization's supervisor
    ]
    for headers in refused:
        assert client.get(url, headers=headers).status_code == 404
        assert client.get(url + "/communications", headers=headers).status_code == 404
    assert client.get(f"/v1/alerts/{uuid.uuid4()}", headers=world.headers("admin", "admin")).status_code == 404


# --- FHIR --------------------------------------------------------------------------------------------


def test_communications_are_a_valid_fhir_r4_bundle(client, world):
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.communication import Communication

    event_id, ids = world.alert({0: ["dr"], 1: ["nurse", "other"]})
    post(client, world, "nurse", ids[(1, "nurse")], "acknowledge", "nurse")
    post(client, world, "other", ids[(1, "other")], "decline")
    response = client.get(f"/v1/alerts/{event_id}/communications", headers=world.headers("dr", "physician"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)  # the R4 structure, types and cardinalities (required fields included)
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        Communication.model_validate(resource)
        assert resource["status"] in EVENT_STATUS and resource["priority"] in REQUEST_PRIORITY
        assert resource["category"] == [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/communication-category", "code": "alert"}]}
        ]
        assert resource["subject"] == {"reference": f"Patient/{world.uid('p-1')}"}
        assert resource["basedOn"] == [{"reference": "DiagnosticReport/dr-9"}]
    parent, *children = resources
    assert parent["id"] == str(event_id) and parent["status"] == "completed" and parent["priority"] == "stat"
    assert {c["id"] for c in children} == {str(n) for n in ids.values()}
    assert all(c["partOf"] == [{"reference": f"Communication/{event_id}"}] for c in children)
    by_id = {c["id"]: c for c in children}
    nurse, other, dr = by_id[str(ids[(1, "nurse")])], by_id[str(ids[(1, "other")])], by_id[str(ids[(0, "dr")])]
    assert nurse["status"] == "completed" and nurse["received"]
    assert nurse["recipient"] == [{"reference": f"Practitioner/{world.uid('nurse')}"}]
    assert other["status"] == "stopped" and "received" not in other
    assert dr["status"] == "stopped" and dr["statusReason"]["text"]


# --- escalation policies -----------------------------------------------------------------------------

ONE_STEP = {"acknowledgement": "each_step", "steps": [{"targets": [{"type": "user", "user_id": "u-1"}], "wait_s": 60}]}


def test_policies_default_override_off_and_back(client, world):
    admin, member = world.headers("director", "medical_director"), world.headers("nurse", "nurse")
    listed = {p["event_type"]: p for p in client.get("/v1/escalation-policies", headers=member).json()["items"]}
    assert listed[CRITICAL] == {
        "event_type": CRITICAL,
        "source": "default",
        "policy": FIRST,
        "requires_acknowledgement": True,
        "updated_by": None,
        "updated_at": None,
    }
    assert "ANNOUNCEMENT_URGENT" in listed

    stored = client.put(f"/v1/escalation-policies/{CRITICAL}", json=ONE_STEP, headers=admin)
    assert stored.status_code == 200, stored.text
    assert stored.json()["policy"] == ONE_STEP and stored.json()["source"] == "override"
    assert stored.json()["updated_by"] == world.uid("director")
    row = world.row(
        "SELECT policy, updated_by FROM escalation_policies WHERE organization_id = :o AND event_type = :t",
        o=world.org,
        t=CRITICAL,
    )
    assert row.policy == ONE_STEP and row.updated_by == world.uid("director")
    listed = {p["event_type"]: p for p in client.get("/v1/escalation-policies", headers=member).json()["items"]}
    assert listed[CRITICAL]["source"] == "override" and listed[CRITICAL]["policy"] == ONE_STEP

    # Another organization still has the default.
    other = World(world.db)
    theirs = {
        p["event_type"]: p
        for p in client.get("/v1/escalation-policies", headers=other.headers("a", "admin")).json()["items"]
    }
    assert theirs[CRITICAL]["source"] == "default"

    off = client.put(f"/v1/escalation-policies/{CRITICAL}", json={"steps": []}, headers=admin).json()
    assert off["requires_acknowledgement"] is False and off["policy"] == {"acknowledgement": "first", "steps": []}
    # A type without a default may get one.
    assert client.put("/v1/escalation-policies/APPOINTMENT_SCHEDULED", json=ONE_STEP, headers=admin).status_code == 200

    assert client.delete(f"/v1/escalation-policies/{CRITICAL}", headers=admin).status_code == 204
    assert client.delete(f"/v1/escalation-policies/{CRITICAL}", headers=admin).status_code == 204
    listed = {p["event_type"]: p for p in client.get("/v1/escalation-policies", headers=member).json()["items"]}
    assert listed[CRITICAL]["source"] == "default" and listed["APPOINTMENT_SCHEDULED"]["source"] == "override"


def test_only_administrators_change_policies(client, world):
    for headers in (world.headers("dr", "physician"), world.headers("nurse", "nurse")):
        assert client.put(f"/v1/escalation-policies/{CRITICAL}", json=ONE_STEP, headers=headers).status_code == 403
        assert client.delete(f"/v1/escalation-policies/{CRITICAL}", headers=headers).status_code == 403
    world.user("admin", "admin")
    assert (
        client.put(
            f"/v1/escalation-policies/{CRITICAL}", json=ONE_STEP, headers=world.headers("admin", "admin")
        ).status_code
        == 200
    )
    assert world.scalar("SELECT count(*) FROM escalation_policies WHERE organization_id = :o", o=world.org) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": [{"targets": [{"type": "practitioner"}], "wait_s": -1}]}, "steps[0].wait_s"),
        ({"steps": [{"targets": [], "wait_s": 5}]}, "steps[0].targets"),
        ({"steps": [{"targets": [{"type": "user"}], "wait_s": 5}]}, "steps[0].targets[0].user_id"),
        (
            {"steps": [{"targets": [{"type": "practitioner", "roles": ["nurse"]}], "wait_s": 5}]},
            "steps[0].targets[0].roles",
        ),
        ({"acknowledgement": "whenever", "steps": []}, "acknowledgement"),
        ({"steps": [], "colour": "red"}, "policy"),
    ],
)
def test_a_policy_that_cannot_be_acted_on_is_a_422_naming_the_field(client, world, body, field):
    world.user("admin", "admin")
    response = client.put(f"/v1/escalation-policies/{CRITICAL}", json=body, headers=world.headers("admin", "admin"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert world.scalar("SELECT count(*) FROM escalation_policies WHERE organization_id = :o", o=world.org) == 0


def test_an_unknown_event_type_is_refused(client, world):
    world.user("admin", "admin")
    response = client.put("/v1/escalation-policies/NOT_A_TYPE", json=ONE_STEP, headers=world.headers("admin", "admin"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "event_type"
