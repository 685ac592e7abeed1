"""The event catalogue: defaults per type, the fallback for unknown types, effective priority/visibility."""

import uuid
from datetime import datetime, timezone

import pytest

from processors import catalogue
from processors.catalogue import (
    CATALOGUE,
    CLINICAL_ROLES,
    DEFAULT_ENABLED_TYPES,
    ORG_WIDE_PATIENT_ACCESS_ROLES,
    SUPERVISOR_ROLES,
    effective_priority,
    effective_visibility,
    lookup,
)
from streams.messages import VISIBILITIES, ActivityEvent, Priority

L, N, H, U = Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT


def _event(event_type: str, **overrides) -> ActivityEvent:
    fields = dict(
        event_id=uuid.UUID(int=1),
        event_type=event_type,
        title="t",
        organization_id="org-1",
        occurred_at=datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc),
    )
    return ActivityEvent(**(fields | overrides))


@pytest.mark.parametrize(
    "event_type, priority, visibility, rule",
    [
        pytest.param("PATIENT_REGISTERED", L, "all_members", "none", id="patient-registered"),
        pytest.param("PATIENT_UPDATED", L, "all_members", "none", id="patient-updated"),
        pytest.param("APPOINTMENT_SCHEDULED", N, "all_members", "practitioner", id="appointment-scheduled"),
        pytest.param("APPOINTMENT_CANCELLED", N, "all_members", "practitioner", id="appointment-cancelled"),
        pytest.param("APPOINTMENT_RESCHEDULED", N, "all_members", "practitioner", id="appointment-rescheduled"),
        pytest.param("APPOINTMENT_CHECKED_IN", N, "all_members", "practitioner", id="appointment-checked-in"),
        pytest.param("LAB_RESULT_RECEIVED", N, "clinical_staff", "care_team", id="lab-result"),
        pytest.param("LAB_RESULT_CRITICAL", U, "clinical_staff", "care_team", id="lab-result-critical"),
        pytest.param("MEDICATION_PRESCRIBED", N, "clinical_staff", "care_team", id="medication-prescribed"),
        pytest.param("ENCOUNTER_SIGNED", N, "clinical_staff", "care_team", id="encounter-signed"),
        pytest.param("DOCUMENT_UPLOADED", L, "clinical_staff", "care_team", id="document-uploaded"),
        pytest.param("TASK_ASSIGNED", N, "all_members", "practitioner", id="task-assigned"),
        pytest.param("REFERRAL_RECEIVED", N, "clinical_staff", "practitioner", id="referral-received"),
        pytest.param("ANNOUNCEMENT", N, "all_members", "organization", id="announcement"),
        pytest.param("ANNOUNCEMENT_URGENT", U, "all_members", "organization", id="announcement-urgent"),
        pytest.param("AUDIT_ACCESS", L, "actor_and_supervisors", "none", id="audit-access"),
        pytest.param("USER_ROLE_CHANGED", N, "actor_and_supervisors", "none", id="user-role-changed"),
    ],
)
def test_catalogue_entry(event_type, priority, visibility, rule):
    entry = lookup(event_type)
    assert (entry.event_type, entry.priority, entry.visibility, entry.recipients, entry.known) == (
        event_type,
        priority,
        visibility,
        rule,
        True,
    )


@pytest.mark.parametrize(
    "event_type, title, body",
    [
        pytest.param("LAB_RESULT_RECEIVED", "New lab result", "Open Herald to view it.", id="lab-result"),
        pytest.param("LAB_RESULT_CRITICAL", "Critical lab result", "Open Herald to view it.", id="critical"),
        pytest.param("APPOINTMENT_CHECKED_IN", "Patient checked in", "Open Herald to view it.", id="checked-in"),
        pytest.param("ANNOUNCEMENT_URGENT", "Urgent announcement", "Open Herald to view it.", id="urgent"),
        pytest.param("SOMETHING_NEW", "New activity", "Open Herald to view it.", id="unknown-type"),
    ],
)
def test_push_text_is_generic(event_type, title, body):
    entry = lookup(event_type)
    assert (entry.push_title, entry.push_body) == (title, body)


def test_push_text_has_no_placeholders_for_phi():
    for entry in CATALOGUE.values():
        assert "{" not in entry.push_title + entry.push_body, entry.event_type


def test_unknown_type_falls_back_to_clinical_staff_and_notifies_no_one():
    entry = lookup("VACCINE_ADMINISTERED")
    assert (entry.event_type, entry.visibility, entry.recipients, entry.known, entry.enabled_by_default) == (
        "VACCINE_ADMINISTERED",
        "clinical_staff",
        "none",
        False,
        False,
    )
    assert "VACCINE_ADMINISTERED" not in CATALOGUE


@pytest.mark.parametrize(
    "event_type, own, expected",
    [
        pytest.param("LAB_RESULT_RECEIVED", None, N, id="default-normal"),
        pytest.param("LAB_RESULT_CRITICAL", None, U, id="default-urgent"),
        pytest.param("LAB_RESULT_RECEIVED", H, H, id="own-raises"),
        pytest.param("LAB_RESULT_CRITICAL", L, L, id="own-lowers"),
        pytest.param("SOMETHING_NEW", None, N, id="unknown-default"),
        pytest.param("SOMETHING_NEW", U, U, id="unknown-own"),
    ],
)
def test_effective_priority(event_type, own, expected):
    assert effective_priority(_event(event_type, priority=own)) == expected


@pytest.mark.parametrize(
    "event_type, own, expected",
    [
        pytest.param("APPOINTMENT_SCHEDULED", None, "all_members", id="default"),
        pytest.param("APPOINTMENT_SCHEDULED", "clinical_staff", "clinical_staff", id="override-narrower"),
        pytest.param("LAB_RESULT_RECEIVED", "all_members", "all_members", id="override-wider"),
        pytest.param("SOMETHING_NEW", None, "clinical_staff", id="unknown-default"),
        pytest.param("SOMETHING_NEW", "actor_and_supervisors", "actor_and_supervisors", id="unknown-override"),
    ],
)
def test_effective_visibility(event_type, own, expected):
    assert effective_visibility(_event(event_type, visibility=own)) == expected


def test_visibility_values_match_the_wire_contract():
    assert {v.value for v in catalogue.Visibility} == VISIBILITIES


@pytest.mark.parametrize(
    "event_type, enabled",
    [
        pytest.param("LAB_RESULT_RECEIVED", True, id="lab-result"),
        pytest.param("LAB_RESULT_CRITICAL", True, id="critical"),
        pytest.param("MEDICATION_PRESCRIBED", True, id="prescription"),
        pytest.param("APPOINTMENT_SCHEDULED", True, id="appointment"),
        pytest.param("TASK_ASSIGNED", True, id="task"),
        pytest.param("ANNOUNCEMENT", True, id="announcement"),
        pytest.param("DOCUMENT_UPLOADED", False, id="document-off"),
        pytest.param("PATIENT_UPDATED", False, id="rule-none"),
        pytest.param("AUDIT_ACCESS", False, id="audit"),
    ],
)
def test_default_enabled_types(event_type, enabled):
    assert (event_type in DEFAULT_ENABLED_TYPES) is enabled


@pytest.mark.parametrize(
    "role, clinical, org_wide_patients, supervisor",
    [
        pytest.param("physician", True, False, False, id="physician"),
        pytest.param("nurse", True, False, False, id="nurse"),
        pytest.param("care_coordinator", True, False, False, id="care-coordinator"),
        pytest.param("front_desk", False, True, False, id="front-desk"),
        pytest.param("admin", False, True, True, id="admin"),
        pytest.param("medical_director", False, True, True, id="medical-director"),
        pytest.param("billing", False, False, False, id="unknown-role"),
    ],
)
def test_role_sets(role, clinical, org_wide_patients, supervisor):
    assert (role in CLINICAL_ROLES, role in ORG_WIDE_PATIENT_ACCESS_ROLES, role in SUPERVISOR_ROLES) == (
        clinical,
        org_wide_patients,
        supervisor,
    )
