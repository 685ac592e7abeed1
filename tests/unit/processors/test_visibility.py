"""can_see: the feed rule (the SQL feed query must agree with this table)."""

import uuid
from datetime import datetime, timezone

import pytest

from processors.visibility import (
    CLINICAL_STAFF_ROLES,
    ORG_WIDE_PATIENT_ACCESS_ROLES,
    SUPERVISOR_ROLES,
    FeedEvent,
    Viewer,
    ViewerFacts,
    can_see,
)
from streams.messages import ActivityEvent


def viewer(user_id: str, *roles: str, org: str = "org-1") -> Viewer:
    return Viewer(user_id, org, frozenset(roles))


ON_TEAM = ViewerFacts(care_team_patient_ids=frozenset({"p-1"}))
OFF_TEAM = ViewerFacts(care_team_patient_ids=frozenset({"p-2"}))
SUPERVISES_NURSE = ViewerFacts(care_team_patient_ids=frozenset({"p-1"}), supervisee_user_ids=frozenset({"nurse-1"}))
SUPERVISES_NURSE_OFF_TEAM = ViewerFacts(supervisee_user_ids=frozenset({"nurse-1"}))
NO_FACTS = ViewerFacts()

APPOINTMENT = FeedEvent("org-1", "all_members", actor_user_id="desk-1", patient_id="p-1")
ANNOUNCEMENT = FeedEvent("org-1", "all_members", actor_user_id="admin-1")
LAB = FeedEvent("org-1", "clinical_staff", actor_user_id="lab-1", patient_id="p-1")
PROTOCOL = FeedEvent("org-1", "clinical_staff", actor_user_id="dr-1")
AUDIT = FeedEvent("org-1", "actor_and_supervisors", actor_user_id="nurse-1", patient_id="p-1")
ROLE_CHANGE = FeedEvent("org-1", "actor_and_supervisors", actor_user_id="nurse-1")
NO_ACTOR = FeedEvent("org-1", "actor_and_supervisors")
STRANGE = FeedEvent("org-1", "board_only", patient_id="p-1")


@pytest.mark.parametrize(
    "event, who, facts, expected",
    [
        # organization wall
        pytest.param(ANNOUNCEMENT, viewer("admin-9", "admin", org="org-2"), NO_FACTS, False, id="other-org-admin"),
        pytest.param(APPOINTMENT, viewer("dr-9", "physician", org="org-2"), ON_TEAM, False, id="other-org-on-team-id"),
        # all_members
        pytest.param(ANNOUNCEMENT, viewer("desk-2", "front_desk"), NO_FACTS, True, id="all-members-front-desk"),
        pytest.param(ANNOUNCEMENT, viewer("x-1"), NO_FACTS, True, id="all-members-no-roles"),
        pytest.param(APPOINTMENT, viewer("desk-2", "front_desk"), NO_FACTS, True, id="patient-front-desk-org-wide"),
        pytest.param(APPOINTMENT, viewer("nurse-2", "nurse"), ON_TEAM, True, id="patient-nurse-on-team"),
        pytest.param(APPOINTMENT, viewer("nurse-2", "nurse"), OFF_TEAM, False, id="patient-nurse-off-team"),
        pytest.param(APPOINTMENT, viewer("desk-1", "billing"), NO_FACTS, False, id="patient-gate-applies-to-actor"),
        # clinical_staff
        pytest.param(LAB, viewer("nurse-2", "nurse"), ON_TEAM, True, id="clinical-nurse-on-team"),
        pytest.param(LAB, viewer("dr-2", "physician"), OFF_TEAM, False, id="clinical-physician-off-team"),
        pytest.param(LAB, viewer("desk-2", "front_desk"), NO_FACTS, False, id="clinical-front-desk-never"),
        pytest.param(LAB, viewer("desk-2", "front_desk"), ON_TEAM, False, id="clinical-front-desk-on-team"),
        pytest.param(LAB, viewer("bill-1", "billing"), ON_TEAM, False, id="clinical-non-clinical-on-team"),
        pytest.param(LAB, viewer("lab-2", "lab_technician"), ON_TEAM, True, id="clinical-lab-tech-on-team"),
        pytest.param(LAB, viewer("admin-1", "admin"), NO_FACTS, True, id="clinical-admin"),
        pytest.param(LAB, viewer("md-1", "medical_director"), NO_FACTS, True, id="clinical-medical-director"),
        pytest.param(LAB, viewer("dr-2", "physician", "front_desk"), NO_FACTS, True, id="clinical-mixed-roles"),
        pytest.param(PROTOCOL, viewer("dr-2", "physician"), NO_FACTS, True, id="clinical-no-patient"),
        pytest.param(PROTOCOL, viewer("desk-2", "front_desk"), NO_FACTS, False, id="clinical-no-patient-front-desk"),
        # actor_and_supervisors
        pytest.param(AUDIT, viewer("nurse-1", "nurse"), ON_TEAM, True, id="audit-actor"),
        pytest.param(AUDIT, viewer("nurse-1", "nurse"), OFF_TEAM, False, id="audit-actor-off-team"),
        pytest.param(AUDIT, viewer("nurse-2", "nurse"), ON_TEAM, False, id="audit-colleague"),
        pytest.param(AUDIT, viewer("lead-1", "nurse"), SUPERVISES_NURSE, True, id="audit-supervisor"),
        pytest.param(
            AUDIT, viewer("lead-1", "nurse"), SUPERVISES_NURSE_OFF_TEAM, False, id="audit-supervisor-off-team"
        ),
        pytest.param(AUDIT, viewer("admin-1", "admin"), NO_FACTS, True, id="audit-admin"),
        pytest.param(AUDIT, viewer("md-1", "medical_director"), NO_FACTS, True, id="audit-medical-director"),
        pytest.param(AUDIT, viewer("desk-2", "front_desk"), NO_FACTS, False, id="audit-front-desk"),
        pytest.param(ROLE_CHANGE, viewer("nurse-1", "nurse"), NO_FACTS, True, id="role-change-actor"),
        pytest.param(
            ROLE_CHANGE,
            viewer("lead-1", "office_manager"),
            SUPERVISES_NURSE_OFF_TEAM,
            True,
            id="role-change-supervisor",
        ),
        pytest.param(ROLE_CHANGE, viewer("dr-2", "physician"), ON_TEAM, False, id="role-change-clinician"),
        pytest.param(NO_ACTOR, viewer("nurse-1", "nurse"), SUPERVISES_NURSE, False, id="no-actor-nurse"),
        pytest.param(NO_ACTOR, viewer("admin-1", "admin"), NO_FACTS, True, id="no-actor-admin"),
        # a visibility Herald does not know: clinical staff only (fail closed)
        pytest.param(STRANGE, viewer("dr-2", "physician"), ON_TEAM, True, id="unknown-visibility-clinician"),
        pytest.param(STRANGE, viewer("desk-2", "front_desk"), NO_FACTS, False, id="unknown-visibility-front-desk"),
    ],
)
def test_can_see(event, who, facts, expected):
    assert can_see(event, who, facts) is expected


def _activity(event_type: str, visibility: str | None = None) -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.UUID(int=5),
        event_type=event_type,
        title="t",
        organization_id="org-1",
        occurred_at=datetime(2026, 1, 15, tzinfo=timezone.utc),
        actor_user_id="dr-1",
        patient_id="p-1",
        visibility=visibility,
    )


@pytest.mark.parametrize(
    "event, expected",
    [
        pytest.param(
            _activity("APPOINTMENT_SCHEDULED"), FeedEvent("org-1", "all_members", "dr-1", "p-1"), id="default"
        ),
        pytest.param(
            _activity("APPOINTMENT_SCHEDULED", "clinical_staff"),
            FeedEvent("org-1", "clinical_staff", "dr-1", "p-1"),
            id="override",
        ),
        pytest.param(
            _activity("VACCINE_ADMINISTERED"), FeedEvent("org-1", "clinical_staff", "dr-1", "p-1"), id="unknown-type"
        ),
    ],
)
def test_feed_event_from_activity(event, expected):
    assert FeedEvent.of(event) == expected


def test_role_sets_for_the_sql_mirror():
    assert CLINICAL_STAFF_ROLES == {
        "physician",
        "nurse",
        "nurse_practitioner",
        "physician_assistant",
        "pharmacist",
        "lab_technician",
        "care_coordinator",
        "admin",
        "medical_director",
    }
    assert ORG_WIDE_PATIENT_ACCESS_ROLES == {"admin", "medical_director", "front_desk"}
    assert SUPERVISOR_ROLES == {"admin", "medical_director"}
