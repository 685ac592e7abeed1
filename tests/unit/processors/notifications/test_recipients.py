"""resolve_recipients: who each recipient rule names, and who it never names."""

import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.notifications.directory import Directory, DirectoryUser
from processors.notifications.ids import notification_id
from processors.notifications.recipients import Recipient, resolve_recipients
from streams.messages import ActivityEvent, DirectoryChange

AT = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)

# org-1: dr-a, nurse-b, admin-d active; nurse-c inactive. dr-x is active in org-2.
# p-1's care team lists all of them (dr-x by mistake, from another organization); p-2 has no team.
DIRECTORY = Directory.of(
    users=[
        DirectoryUser("nurse-b", "org-1", frozenset({"nurse"})),
        DirectoryUser("dr-a", "org-1", frozenset({"physician"})),
        DirectoryUser("nurse-c", "org-1", frozenset({"nurse"}), active=False),
        DirectoryUser("admin-d", "org-1", frozenset({"admin"})),
        DirectoryUser("dr-x", "org-2", frozenset({"physician"})),
    ],
    care_team=[("p-1", "nurse-b"), ("p-1", "dr-a"), ("p-1", "nurse-c"), ("p-1", "dr-x"), ("p-1", "dr-a")],
)


def _event(event_type: str, **overrides) -> ActivityEvent:
    fields = dict(
        event_id=uuid.UUID(int=7),
        event_type=event_type,
        title="t",
        organization_id="org-1",
        occurred_at=AT,
        notify=True,
    )
    return ActivityEvent(**(fields | overrides))


def _ids(recipients: list[Recipient]) -> list[tuple[str, str]]:
    return [(r.user_id, r.reason) for r in recipients]


@pytest.mark.parametrize(
    "event, expected",
    [
        pytest.param(
            _event("APPOINTMENT_SCHEDULED", practitioner_user_id="dr-a"), [("dr-a", "practitioner")], id="practitioner"
        ),
        pytest.param(
            _event("TASK_ASSIGNED", practitioner_user_id="nurse-b", actor_user_id="dr-a"),
            [("nurse-b", "practitioner")],
            id="practitioner-task",
        ),
        pytest.param(_event("APPOINTMENT_CANCELLED", practitioner_user_id="nurse-c"), [], id="practitioner-inactive"),
        pytest.param(_event("APPOINTMENT_CANCELLED", practitioner_user_id="dr-x"), [], id="practitioner-other-org"),
        pytest.param(_event("APPOINTMENT_CANCELLED", practitioner_user_id="ghost"), [], id="practitioner-unknown"),
        pytest.param(_event("APPOINTMENT_CANCELLED"), [], id="practitioner-missing"),
        pytest.param(
            _event("APPOINTMENT_RESCHEDULED", practitioner_user_id="dr-a", actor_user_id="dr-a"),
            [],
            id="practitioner-is-actor",
        ),
        pytest.param(
            _event("LAB_RESULT_RECEIVED", patient_id="p-1"),
            [("dr-a", "care_team"), ("nurse-b", "care_team")],
            id="care-team",
        ),
        pytest.param(
            _event("MEDICATION_PRESCRIBED", patient_id="p-1", actor_user_id="dr-a"),
            [("nurse-b", "care_team")],
            id="care-team-actor-excluded",
        ),
        pytest.param(_event("LAB_RESULT_CRITICAL", patient_id="p-2"), [], id="care-team-empty"),
        pytest.param(_event("LAB_RESULT_CRITICAL"), [], id="care-team-no-patient"),
        pytest.param(
            _event("ANNOUNCEMENT_URGENT"),
            [("admin-d", "organization"), ("dr-a", "organization"), ("nurse-b", "organization")],
            id="organization",
        ),
        pytest.param(
            _event("ANNOUNCEMENT", actor_user_id="admin-d"),
            [("dr-a", "organization"), ("nurse-b", "organization")],
            id="organization-actor-excluded",
        ),
        pytest.param(
            _event("ANNOUNCEMENT", organization_id="org-2"), [("dr-x", "organization")], id="organization-other"
        ),
        pytest.param(_event("ANNOUNCEMENT", organization_id="org-3"), [], id="organization-empty"),
        pytest.param(_event("PATIENT_UPDATED", patient_id="p-1", practitioner_user_id="dr-a"), [], id="rule-none"),
        pytest.param(_event("AUDIT_ACCESS", patient_id="p-1", actor_user_id="nurse-b"), [], id="audit-none"),
        pytest.param(
            _event("VACCINE_ADMINISTERED", patient_id="p-1", practitioner_user_id="dr-a"), [], id="unknown-type"
        ),
        pytest.param(_event("LAB_RESULT_CRITICAL", patient_id="p-1", notify=False), [], id="notify-false"),
    ],
)
def test_resolve_recipients(event, expected):
    assert _ids(resolve_recipients(event, DIRECTORY)) == expected


def test_duplicates_removed_and_sorted():
    directory = Directory.of(
        users=[DirectoryUser(u, "org-1") for u in ("zed", "amy", "mia", "amy")],
        care_team=[("p-9", "zed"), ("p-9", "mia"), ("p-9", "amy"), ("p-9", "zed"), ("p-9", "amy")],
    )
    event = _event("ENCOUNTER_SIGNED", patient_id="p-9")
    assert [r.user_id for r in resolve_recipients(event, directory)] == ["amy", "mia", "zed"]


def test_directory_from_changes_last_record_wins():
    def user(user_id, active=True, org="org-1"):
        return DirectoryChange("user", org, user_id, AT, roles=("nurse",), active=active)

    def member(user_id, active=True):
        return DirectoryChange("care_team_member", "org-1", user_id, AT, patient_id="p-1", active=active)

    directory = Directory.from_changes(
        [
            user("amy"),
            user("bob"),
            user("cat"),
            user("dan"),
            member("amy"),
            member("bob"),
            member("cat"),
            member("dan"),
            user("bob", active=False),  # left the organization
            member("cat", active=False),  # left the care team
            user("dan", org="org-2"),  # moved to another organization
        ]
    )
    assert directory.care_teams["p-1"] == frozenset({"amy", "bob", "dan"})
    assert directory.users["amy"].roles == frozenset({"nurse"})
    assert [r.user_id for r in resolve_recipients(_event("LAB_RESULT_RECEIVED", patient_id="p-1"), directory)] == [
        "amy"
    ]


EVENT_ID = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")


@pytest.mark.parametrize(
    "user_id, expected",
    [
        pytest.param("dr-a", uuid.UUID("24013bef-a673-55d6-b52d-78532faf619f"), id="dr-a"),
        pytest.param("nurse-b", uuid.UUID("04d842ac-7449-5a4f-a9fd-c4e3a61f5881"), id="nurse-b"),
    ],
)
def test_notification_id_is_pinned(user_id, expected):
    # Pinned values: the id is the primary key of user_notifications, so it must never change.
    assert notification_id(EVENT_ID, user_id) == expected
    assert notification_id(EVENT_ID, user_id).version == 5


@settings(max_examples=300)
@given(st.uuids(), st.text(max_size=80))
def test_notification_id_is_uuid5_of_the_event_and_user(event_id, user_id):
    assert notification_id(event_id, user_id) == uuid.uuid5(event_id, user_id)
    assert notification_id(event_id, user_id, namespace=event_id.bytes) == uuid.uuid5(event_id, user_id)
