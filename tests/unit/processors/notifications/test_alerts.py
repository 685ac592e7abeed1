"""Alert steps: whom a step alerts and whom it skips, what it sends, and how answers end an alert."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone

import pytest

from processors.catalogue import RecipientRule
from processors.notifications.alerts import (
    AckStatus,
    AlertState,
    SkipReason,
    ack_status,
    decline_advances,
    plan_step,
    state_after_acknowledgement,
    step_recipients,
)
from processors.notifications.decisions import PushAction
from processors.notifications.directory import Directory, DirectoryUser
from processors.notifications.escalation_policy import Acknowledgement, Target, policy_from_json
from processors.notifications.ids import alert_notification_id, notification_id
from processors.notifications.preferences import Preferences
from streams.messages import ActivityEvent, Priority

RAISED = datetime(2026, 6, 1, 3, 0, tzinfo=timezone.utc)
NOW = RAISED + timedelta(minutes=5)
USERS = [
    DirectoryUser("doc", "org", frozenset({"physician"})),
    DirectoryUser("nurse", "org", frozenset({"nurse"})),
    DirectoryUser("clerk", "org", frozenset({"front_desk"})),
    DirectoryUser("lab", "org", frozenset({"lab_technician"})),
    DirectoryUser("gone", "org", frozenset({"nurse"}), active=False),
    DirectoryUser("moved", "org2", frozenset({"nurse"})),
    DirectoryUser("chief", "org", frozenset({"medical_director"})),
    DirectoryUser("chief2", "org2", frozenset({"medical_director"})),
]
TEAM = [("p1", u) for u in ("doc", "nurse", "clerk", "lab", "gone", "moved", "stranger")]
FORMER = [("p1", "left_after", RAISED + timedelta(minutes=1)), ("p1", "left_before", RAISED - timedelta(days=3))]
DIRECTORY = Directory.of(
    USERS + [DirectoryUser("left_after", "org"), DirectoryUser("left_before", "org")], TEAM, FORMER
)
EVENT = ActivityEvent(
    uuid.uuid4(),
    "LAB_RESULT_CRITICAL",
    RAISED,
    "org",
    "Potassium 6.9 for Mara Quill",
    actor_user_id="lab",
    patient_id="p1",
    practitioner_user_id="doc",
    notify=True,
)
CLINICAL = Target(RecipientRule.CARE_TEAM, frozenset({"physician", "nurse", "lab_technician"}))


@pytest.mark.parametrize(
    "targets, before, chosen, skipped",
    [
        pytest.param([Target(RecipientRule.PRACTITIONER)], [], ["doc"], [], id="practitioner"),
        pytest.param(
            [CLINICAL],
            ["doc"],
            ["nurse"],
            [
                ("doc", "already_notified"),
                ("gone", "inactive"),
                ("lab", "actor"),
                ("left_after", "left_care_team"),
                ("moved", "inactive"),
                ("stranger", "unknown_user"),  # whose roles nobody knows: recorded, not silently dropped
            ],
            id="clinical-care-team",
        ),
        pytest.param(
            [Target(RecipientRule.CARE_TEAM)],
            [],
            ["clerk", "doc", "nurse"],
            [
                ("gone", "inactive"),
                ("lab", "actor"),
                ("left_after", "left_care_team"),
                ("moved", "inactive"),
                ("stranger", "unknown_user"),
            ],
            id="whole-care-team",
        ),
        pytest.param(
            [Target(RecipientRule.ORGANIZATION, frozenset({"medical_director"}))], [], ["chief"], [], id="org-role"
        ),
        pytest.param([Target(RecipientRule.USER, user_id="gone")], [], [], [("gone", "inactive")], id="named-inactive"),
        pytest.param(
            [Target(RecipientRule.PRACTITIONER), Target(RecipientRule.USER, user_id="doc")],
            [],
            ["doc"],
            [],
            id="named-twice-counts-once",
        ),
    ],
)
def test_whom_a_step_alerts_and_whom_it_skips_with_why(targets, before, chosen, skipped):
    got, skips = step_recipients(EVENT, targets, DIRECTORY, before, RAISED)
    assert [u for u, _ in got] == chosen
    assert [(s.user_id, s.reason.value) for s in skips] == skipped


def test_a_step_gives_every_recipient_a_bell_row_and_an_urgent_push_unless_push_is_off():
    policy = policy_from_json(
        {
            "steps": [
                {"targets": [{"type": "practitioner"}], "wait_s": 300},
                {"targets": [{"type": "care_team"}], "wait_s": 600},
            ]
        }
    )
    quiet_all_day = Preferences(
        enabled_types=frozenset(),
        min_push_priority=Priority.URGENT,
        quiet_hours_start=time(0),
        quiet_hours_end=time(23, 59),
    )
    prefs = {"nurse": quiet_all_day, "clerk": Preferences(push_enabled=False)}

    plan = plan_step(EVENT, policy, 1, DIRECTORY, prefs, notified_before=frozenset({"doc"}), raised_at=RAISED, now=NOW)

    assert [(b.user_id, b.push, b.alert_step) for b in plan.bell] == [
        ("clerk", PushAction.NONE, 1),
        ("nurse", PushAction.NOW, 1),
    ]
    [push] = plan.pushes
    assert (push.user_id, push.kind, push.priority) == ("nurse", "alert", Priority.URGENT)
    assert (
        push.notification_id
        == alert_notification_id(EVENT.event_id, "nurse", 1)
        != notification_id(EVENT.event_id, "nurse")
    )
    assert plan.next_due_at == NOW + timedelta(seconds=600) and plan.fired_at == NOW


def test_each_step_mode_alerts_an_earlier_recipient_again():
    policy = policy_from_json(
        {
            "acknowledgement": "each_step",
            "steps": [
                {"targets": [{"type": "practitioner"}], "wait_s": 60},
                {"targets": [{"type": "practitioner"}], "wait_s": 60},
            ],
        }
    )
    plan = plan_step(EVENT, policy, 1, DIRECTORY, {}, notified_before=frozenset({"doc"}), raised_at=RAISED, now=NOW)
    assert [b.user_id for b in plan.bell] == ["doc"] and plan.skipped == []


@pytest.mark.parametrize(
    "mode, latest, acked_step, recipients, acknowledged, state",
    [
        (Acknowledgement.FIRST, 2, 0, 5, 1, AlertState.ACKNOWLEDGED),  # even a late answer from step 0
        (Acknowledgement.EACH_STEP, 2, 2, 5, 1, AlertState.ACKNOWLEDGED),
        (Acknowledgement.EACH_STEP, 2, 0, 5, 1, AlertState.OPEN),  # step 2's people must answer themselves
        (Acknowledgement.EACH_RECIPIENT, 0, 0, 3, 2, AlertState.OPEN),
        (Acknowledgement.EACH_RECIPIENT, 0, 0, 3, 3, AlertState.ACKNOWLEDGED),
    ],
)
def test_what_an_acknowledgement_does_to_the_alert(mode, latest, acked_step, recipients, acknowledged, state):
    got = state_after_acknowledgement(
        mode, latest_step=latest, acknowledged_step=acked_step, recipients=recipients, acknowledged=acknowledged
    )
    assert got == state


def test_a_decline_skips_ahead_except_when_every_recipient_answers_for_themselves():
    assert decline_advances(Acknowledgement.FIRST) and decline_advances(Acknowledgement.EACH_STEP)
    assert not decline_advances(Acknowledgement.EACH_RECIPIENT)


@pytest.mark.parametrize(
    "acknowledged, declined, alert, status",
    [
        (NOW, None, AlertState.OPEN, AckStatus.ACKNOWLEDGED),
        (None, NOW, AlertState.OPEN, AckStatus.DECLINED),
        (NOW, NOW, AlertState.ACKNOWLEDGED, AckStatus.ACKNOWLEDGED),  # answered both ways: the acknowledgement stands
        (None, None, AlertState.OPEN, AckStatus.AWAITING),
        (None, None, AlertState.ACKNOWLEDGED, AckStatus.CLOSED),
        (None, None, AlertState.EXHAUSTED, AckStatus.CLOSED),
        (None, None, None, AckStatus.CLOSED),
    ],
)
def test_the_bell_status_of_an_alert_notification(acknowledged, declined, alert, status):
    assert ack_status(acknowledged, declined, alert) == status


def test_skip_reasons_are_short_enough_for_the_history_column():
    assert all(len(r.value) <= 32 for r in SkipReason)
