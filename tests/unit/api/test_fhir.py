"""The FHIR mapping of an alert: required fields and codes of the R4 value sets, references, times."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from api.alert_record import AlertRecord, Notified, Push, Step
from api.fhir import PRIORITY, communication, communications_bundle, parent
from processors.notifications.alerts import AckStatus, AlertState

T0 = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
EVENT = uuid.uuid4()
# FHIR R4's required value sets for Communication.status (event-status) and .priority (request-priority).
EVENT_STATUSES = {
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
}
REQUEST_PRIORITIES = {"routine", "urgent", "asap", "stat"}


def _notified(user: str, status: AckStatus, acked: datetime | None = None) -> Notified:
    return Notified(user, uuid.uuid5(EVENT, user), T0, Push(False, None, ()), acked, None, status)


def _record(state: AlertState = AlertState.OPEN, **changes) -> AlertRecord:
    record = AlertRecord(
        event_id=EVENT,
        event_type="LAB_RESULT_CRITICAL",
        priority="URGENT",
        patient_id="p-1",
        resource_type="DiagnosticReport",
        resource_id="dr-1",
        state=state,
        raised_at=T0,
        closed_at=None,
        acknowledged_by=None,
        policy={},
        steps=(
            Step(0, T0, T0, None, (_notified("a", AckStatus.CLOSED),), ()),
            Step(1, T0, T0, None, (_notified("b", AckStatus.ACKNOWLEDGED, T0 + timedelta(minutes=1)),), ()),
            Step(2, T0, None, T0, (), ()),
        ),
        history=(),
    )
    return replace(record, **changes)


def test_every_status_and_priority_is_in_its_required_value_set():
    for state in AlertState:
        assert parent(_record(state))["status"] in EVENT_STATUSES
    for status in AckStatus:
        assert communication(_record(), 0, _notified("a", status))["status"] in EVENT_STATUSES
    assert set(PRIORITY.values()) <= REQUEST_PRIORITIES
    assert communication(_record(priority="SOMETHING_NEW"), 0, _notified("a", AckStatus.AWAITING))["priority"] == "stat"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (AckStatus.AWAITING, "in-progress"),
        (AckStatus.ACKNOWLEDGED, "completed"),
        (AckStatus.DECLINED, "stopped"),
        (AckStatus.CLOSED, "stopped"),
    ],
)
def test_a_recipients_status(status, code):
    assert communication(_record(), 0, _notified("a", status))["status"] == code


def test_the_bundle_holds_the_parent_then_one_communication_per_step_and_recipient():
    bundle = communications_bundle(_record(AlertState.ACKNOWLEDGED))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection" and "total" not in bundle
    parent_, first, second = (e["resource"] for e in bundle["entry"])
    assert parent_["id"] == str(EVENT) and parent_["status"] == "completed" and "partOf" not in parent_
    assert parent_["recipient"] == [{"reference": "Practitioner/a"}, {"reference": "Practitioner/b"}]
    for child in (first, second):
        assert child["resourceType"] == "Communication"
        assert child["partOf"] == [{"reference": f"Communication/{EVENT}"}]
        assert child["subject"] == {"reference": "Patient/p-1"}
        assert child["basedOn"] == [{"reference": "DiagnosticReport/dr-1"}]
        assert child["category"][0]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/communication-category",
            "code": "alert",
        }
    assert first["id"] == str(uuid.uuid5(EVENT, "a")) and "received" not in first and first["statusReason"]
    assert second["received"] == (T0 + timedelta(minutes=1)).isoformat() and "statusReason" not in second
    assert first["identifier"][0]["value"].endswith("/step/0/a")


def test_no_patient_and_no_resource_leave_subject_and_based_on_out():
    resource = communication(
        _record(patient_id=None, resource_type=None, resource_id=None), 0, _notified("a", AckStatus.AWAITING)
    )
    assert "subject" not in resource and "basedOn" not in resource


def test_the_bundle_is_valid_fhir_r4():
    bundle_model = pytest.importorskip("fhir.resources.R4B.bundle")
    bundle_model.Bundle.model_validate(communications_bundle(_record(AlertState.EXHAUSTED)))
