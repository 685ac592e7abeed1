"""An urgent alert's pushes through the real fan-out and push sender to the FCM emulator: what the
device receives (high priority, time-sensitive, no PHI) and when FCM first accepted one, recorded once."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import create_engine, text

from cli.processes import wait_until
from streams.messages import ActivityEvent, Priority
from tests.integration.fcm import device, publish_requests, push_request, register, sender_caught_up, start_sender
from tests.integration.helpers import publish_events, query, start
from tests.ports import free_port

pytestmark = pytest.mark.integration
PATIENT_NAME = "Mara Quill"


def organization(pipeline) -> str:
    """A practitioner and a nurse in one patient's care team, and the lab technician who reports."""
    org = f"org-{uuid.uuid4().hex[:10]}"
    engine = create_engine(pipeline.settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO directory_users (user_id, organization_id, roles, active, changed_at) "
                "VALUES (:u, :o, :r, true, now())"
            ),
            [
                {"u": f"{org}-{name}", "o": org, "r": [role]}
                for name, role in (("doc", "physician"), ("nurse", "nurse"), ("lab", "lab_technician"))
            ],
        )
        conn.execute(
            text(
                "INSERT INTO care_team_members (patient_id, user_id, organization_id, active, changed_at) "
                "VALUES (:p, :u, :o, true, now())"
            ),
            [{"p": f"{org}-p1", "u": f"{org}-{name}", "o": org} for name in ("doc", "nurse")],
        )
    engine.dispose()
    return org


def critical_result(org: str) -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid4(),
        event_type="LAB_RESULT_CRITICAL",
        occurred_at=datetime.now(timezone.utc) - timedelta(seconds=2),
        organization_id=org,
        title=f"Potassium 6.9 mmol/L for {PATIENT_NAME}",
        description=f"{PATIENT_NAME}, born 1950-02-03: repeat sample haemolysed",
        patient_id=f"{org}-p1",
        practitioner_user_id=f"{org}-doc",
        actor_user_id=f"{org}-lab",
        resource_type="Observation",
        resource_id="obs-1",
        notify=True,
        priority=Priority.URGENT,
    )


def first_accepted_at(pipeline, event_id: uuid.UUID) -> datetime | None:
    return query(pipeline, "SELECT first_accepted_at FROM alerts WHERE event_id = :e", e=event_id)[0][0]


def observed(port: int, event_type: str) -> float:
    """The push sender's count of first accepted alert pushes for ``event_type``, from its /metrics."""
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    line = f'herald_alert_first_push_accepted_seconds_count{{event_type="{event_type}"}} '
    return sum(float(row[len(line) :]) for row in body.splitlines() if row.startswith(line))


def test_an_alert_push_reaches_the_device_time_sensitive_and_its_first_acceptance_is_recorded_once(
    pipeline, fcm, tmp_path
):
    org = organization(pipeline)
    phone, nurse_phone = device(f"{org}-doc"), device(f"{org}-nurse")
    register(pipeline, {f"{org}-doc": [phone]}, platform="ios")
    register(pipeline, {f"{org}-nurse": [nurse_phone]}, platform="android")
    event = critical_result(org)
    publish_events(pipeline, [event])
    port = free_port()

    start(pipeline, "processors.fanout", tmp_path)
    start_sender(pipeline, tmp_path, fcm, HERALD_METRICS_PORT=str(port))
    wait_until(lambda: len(fcm.messages(phone)) == 1, 60, what="the alert's push")
    wait_until(lambda: first_accepted_at(pipeline, event.event_id) is not None, 30, what="first_accepted_at")

    received = fcm.messages(phone)[0]
    message = received["message"]
    assert received["delivery"] == {
        "android_priority": "high",
        "apns_priority": "10",
        "interruption_level": "time-sensitive",
    }
    assert message["notification"] == {"title": "Critical lab result", "body": "Open Herald to acknowledge it."}
    assert message["data"]["kind"] == "alert" and message["data"]["event_type"] == "LAB_RESULT_CRITICAL"
    wire = json.dumps(message)
    phi = [PATIENT_NAME, "Potassium", "haemolysed", "1950", event.patient_id, event.title, event.description]
    assert [p for p in phi if p and p in wire] == []
    first = first_accepted_at(pipeline, event.event_id)
    assert first <= datetime.now(timezone.utc) and first >= event.occurred_at

    # A later step's push of the same alert (the escalator's, to the nurse), accepted later: the first stays.
    later = push_request(
        f"{org}-nurse",
        "LAB_RESULT_CRITICAL",
        organization_id=org,
        priority=Priority.URGENT,
        kind="alert",
        event_id=event.event_id,
        occurred_at=event.occurred_at,
    )
    publish_requests(pipeline, [later])
    wait_until(lambda: len(fcm.messages(nurse_phone)) == 1 and sender_caught_up(pipeline), 60, what="the later push")

    assert fcm.messages(nurse_phone)[0]["delivery"]["interruption_level"] == "time-sensitive"
    assert first_accepted_at(pipeline, event.event_id) == first
    assert observed(port, "LAB_RESULT_CRITICAL") == 1
