"""plan_batch: what one fan-out batch notifies, holds, pushes and marks, as domain values (no services)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone

from processors.catalogue import RecipientRule
from processors.notifications.decisions import PushAction
from processors.notifications.directory import Directory, DirectoryUser
from processors.notifications.escalation_policy import policy_from_json
from processors.notifications.ids import notification_id
from processors.notifications.plan import BellNotification, HeldNotification, plan_batch
from processors.notifications.preferences import Preferences
from processors.notifications.recipients import needed_users
from streams.messages import ActivityEvent, Priority

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
USERS = [
    DirectoryUser("doc", "org", frozenset({"physician"})),
    DirectoryUser("nurse", "org", frozenset({"nurse"})),
    DirectoryUser("night", "org", frozenset({"nurse"})),
    DirectoryUser("admin", "org", frozenset({"admin"})),
]
DIRECTORY = Directory.of(USERS, [("p1", "doc"), ("p1", "nurse"), ("p1", "night")])
QUIET_NOW = Preferences(min_push_priority=Priority.NORMAL, quiet_hours_start=time(11), quiet_hours_end=time(13))


def event(event_type: str, **kw) -> ActivityEvent:
    base = dict(
        event_id=uuid.uuid4(),
        event_type=event_type,
        occurred_at=NOW,
        organization_id="org",
        title="Lab result for Mara Quill",
        notify=True,
        actor_user_id="nurse",
        patient_id="p1",
        practitioner_user_id="doc",
    )
    return ActivityEvent(**{**base, **kw})


def test_care_team_event_gives_bell_rows_to_all_but_the_actor_and_holds_per_preferences():
    e = event("LAB_RESULT_RECEIVED")
    plan = plan_batch([e], DIRECTORY, {"night": QUIET_NOW}, NOW)

    assert sorted(b.user_id for b in plan.bell) == ["doc", "night"]
    assert [(h.user_id, h.release_at) for h in plan.held] == [("night", datetime(2026, 6, 1, 13, tzinfo=timezone.utc))]
    assert plan.pushes == []  # default preferences push HIGH and URGENT only
    assert {b.user_id: b.push for b in plan.bell} == {"doc": PushAction.NONE, "night": PushAction.HOLD}
    assert plan.marked == [e] and plan.bell_only == 1


def test_urgent_event_pushes_now_even_in_quiet_hours_with_the_notification_id_as_key():
    e = event("LAB_RESULT_RECEIVED", priority=Priority.URGENT)
    plan = plan_batch([e], DIRECTORY, {"night": QUIET_NOW}, NOW)

    assert sorted((p.user_id, p.notification_id) for p in plan.pushes) == sorted(
        (u, notification_id(e.event_id, u)) for u in ("doc", "night")
    )
    assert all(p.priority is Priority.URGENT and p.event_id == e.event_id for p in plan.pushes)
    assert plan.held == []


def test_the_same_event_twice_in_a_batch_is_planned_once():
    e = event("LAB_RESULT_RECEIVED", priority=Priority.URGENT)
    plan = plan_batch([e, e], DIRECTORY, {}, NOW)
    assert plan.marked == [e] and len(plan.pushes) == 2


def test_notify_false_and_unknown_types_notify_no_one_but_unknown_is_counted_and_marked():
    quiet = event("LAB_RESULT_RECEIVED", notify=False)
    unknown = event("IMMUNIZATION_RECORDED")
    plan = plan_batch([quiet, unknown], DIRECTORY, {}, NOW)
    assert plan.bell == [] and plan.pushes == []
    assert plan.unknown_types == 1 and plan.marked == [unknown]


def test_needed_users_asks_only_for_what_the_rules_read():
    events = [
        event("APPOINTMENT_SCHEDULED", practitioner_user_id="doc"),
        event("LAB_RESULT_RECEIVED", patient_id="p9"),
        event("ANNOUNCEMENT_URGENT", organization_id="org2", patient_id=None),
        event("PATIENT_UPDATED"),
    ]
    assert needed_users(events) == ({"doc"}, {"p9"}, {"org2"})


def test_needed_users_asks_for_the_first_step_of_an_alert_not_the_catalogue_rule():
    critical = event("LAB_RESULT_CRITICAL", practitioner_user_id="doc", patient_id="p9")
    assert needed_users([critical]) == ({"doc"}, set(), set())  # step 0 is the practitioner, not the care team
    named = {
        ("org", "LAB_RESULT_CRITICAL"): policy_from_json(
            {"steps": [{"targets": [{"type": "user", "user_id": "chief"}], "wait_s": 60}]}
        )
    }
    assert needed_users([critical], named) == ({"chief"}, set(), set())


def test_a_critical_result_raises_an_alert_whose_first_step_alerts_the_practitioner_urgently():
    e = event("LAB_RESULT_CRITICAL")
    plan = plan_batch([e], DIRECTORY, {"doc": QUIET_NOW}, NOW)

    [alert] = plan.alerts
    assert alert.event == e and alert.first_step.step == 0
    assert alert.first_step.next_due_at == NOW + timedelta(minutes=5)
    assert [(b.user_id, b.alert_step, b.push) for b in plan.bell] == [("doc", 0, PushAction.NOW)]
    [push] = plan.pushes
    assert (push.user_id, push.kind, push.priority) == ("doc", "alert", Priority.URGENT)
    assert push.notification_id == notification_id(e.event_id, "doc")  # step 0 keeps the plain id
    assert plan.held == [] and plan.marked == [e]


def test_an_organization_may_turn_acknowledgement_off_and_the_catalogue_rule_applies_again():
    e = event("LAB_RESULT_CRITICAL")
    off = {("org", "LAB_RESULT_CRITICAL"): policy_from_json({"steps": []})}
    plan = plan_batch([e], DIRECTORY, {}, NOW, off)
    assert plan.alerts == []
    assert sorted(b.user_id for b in plan.bell) == ["doc", "night"] and {b.alert_step for b in plan.bell} == {None}


def test_the_plan_names_each_notification_and_held_push_by_event_user_and_reason():
    e = event("LAB_RESULT_RECEIVED")
    plan = plan_batch([e], DIRECTORY, {"night": QUIET_NOW}, NOW)

    night = notification_id(e.event_id, "night")
    assert BellNotification(night, "night", RecipientRule.CARE_TEAM, PushAction.HOLD, e, Priority.NORMAL) in plan.bell
    assert plan.held == [
        HeldNotification(
            night, "night", RecipientRule.CARE_TEAM, e, Priority.NORMAL, datetime(2026, 6, 1, 13, tzinfo=timezone.utc)
        )
    ]
