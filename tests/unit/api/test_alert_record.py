"""An alert's history from its rows, and the rules applied to a recipient's answer."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from api.alert_record import Push, assemble, decline_hurries, push_outcome, state_after_answer
from processors.notifications.alerts import AckStatus, AlertState
from processors.notifications.escalation_policy import DEFAULT_POLICIES, Acknowledgement

T0 = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)
EVENT = uuid.uuid4()


def _alert(state: str = "open", policy: dict | None = None) -> dict:
    return {
        "event_id": EVENT,
        "event_type": "LAB_RESULT_CRITICAL",
        "priority": "URGENT",
        "patient_id": "p-1",
        "resource_type": None,
        "resource_id": None,
        "state": state,
        "raised_at": T0,
        "closed_at": None,
        "acknowledged_by": None,
        "policy": policy if policy is not None else DEFAULT_POLICIES["LAB_RESULT_CRITICAL"].to_json(),
    }


def _note(step: int, user: str, *, acked=None, declined=None, sent_at=None, statuses=()) -> dict:
    return {
        "alert_step": step,
        "user_id": user,
        "notification_id": uuid.uuid5(EVENT, f"{user}#{step}"),
        "created_at": T0 + timedelta(seconds=step),
        "acknowledged_at": acked,
        "declined_at": declined,
        "sent_at": sent_at,
        "statuses": list(statuses),
    }


def test_push_is_accepted_when_any_delivery_was_sent_else_lists_the_statuses():
    assert push_outcome(T0, ["failed", "sent"]) == Push(True, T0, ("sent",))
    assert push_outcome(None, ["retrying", "failed", "failed"]) == Push(False, None, ("failed", "retrying"))
    assert push_outcome(None, None) == Push(False, None, ())


def test_assemble_groups_notifications_and_skips_by_step():
    steps = [
        {"step": 1, "due_at": T0, "fired_at": T0, "cancelled_at": None},
        {"step": 0, "due_at": T0, "fired_at": T0, "cancelled_at": None},
        {"step": 2, "due_at": T0, "fired_at": None, "cancelled_at": None},
    ]
    notes = [_note(1, "b", declined=T0), _note(1, "a"), _note(0, "c", sent_at=T0, statuses=["sent"])]
    log = [
        {"step": 1, "user_id": "z", "action": "skipped", "detail": "inactive", "at": T0},
        {"step": 1, "user_id": "b", "action": "declined", "detail": None, "at": T0},
    ]
    record = assemble(_alert(), steps, notes, log)
    assert [s.step for s in record.steps] == [0, 1, 2]
    assert [n.user_id for n in record.steps[1].notified] == ["a", "b"]
    assert [n.status for n in record.steps[1].notified] == [AckStatus.AWAITING, AckStatus.DECLINED]
    assert record.steps[0].notified[0].push.accepted
    assert [(k.user_id, k.reason) for k in record.steps[1].skipped] == [("z", "inactive")]
    assert record.steps[2].notified == () and record.steps[0].skipped == ()
    assert [h.action for h in record.history] == ["skipped", "declined"]


def test_an_unanswered_notification_of_a_closed_alert_reads_closed():
    record = assemble(
        _alert("exhausted"), [{"step": 0, "due_at": T0, "fired_at": T0, "cancelled_at": None}], [_note(0, "a")], []
    )
    assert record.steps[0].notified[0].status == AckStatus.CLOSED


def test_a_stored_policy_this_version_cannot_parse_is_served_as_stored():
    odd = {"steps": [], "escalate_to": "moon"}
    assert assemble(_alert(policy=odd), [], [], []).policy == odd


@pytest.mark.parametrize(
    ("current", "mode", "counts", "expected"),
    [
        (AlertState.OPEN, Acknowledgement.FIRST, (0, 0, 1, 1), AlertState.ACKNOWLEDGED),
        (AlertState.OPEN, Acknowledgement.EACH_STEP, (2, 0, 3, 1), AlertState.OPEN),
        (AlertState.OPEN, Acknowledgement.EACH_STEP, (2, 2, 3, 1), AlertState.ACKNOWLEDGED),
        (AlertState.OPEN, Acknowledgement.EACH_RECIPIENT, (0, 0, 3, 2), AlertState.OPEN),
        (AlertState.OPEN, Acknowledgement.EACH_RECIPIENT, (0, 0, 3, 3), AlertState.ACKNOWLEDGED),
        # Late: the escalation is over, so an earlier step's acknowledgement ends an exhausted alert too.
        (AlertState.EXHAUSTED, Acknowledgement.FIRST, (2, 0, 3, 1), AlertState.ACKNOWLEDGED),
        (AlertState.EXHAUSTED, Acknowledgement.EACH_STEP, (2, 0, 3, 1), AlertState.ACKNOWLEDGED),
        (AlertState.EXHAUSTED, Acknowledgement.EACH_RECIPIENT, (0, 0, 3, 2), AlertState.EXHAUSTED),
        (AlertState.EXHAUSTED, Acknowledgement.EACH_RECIPIENT, (0, 0, 3, 3), AlertState.ACKNOWLEDGED),
        (AlertState.ACKNOWLEDGED, Acknowledgement.EACH_STEP, (2, 0, 3, 2), AlertState.ACKNOWLEDGED),
    ],
)
def test_state_after_answer(current, mode, counts, expected):
    latest, step, recipients, acknowledged = counts
    got = state_after_answer(
        current, mode, latest_step=latest, acknowledged_step=step, recipients=recipients, acknowledged=acknowledged
    )
    assert got == expected


def test_a_decline_hurries_only_an_open_alert_that_escalates():
    assert decline_hurries(AlertState.OPEN, Acknowledgement.FIRST)
    assert decline_hurries(AlertState.OPEN, Acknowledgement.EACH_STEP)
    assert not decline_hurries(AlertState.OPEN, Acknowledgement.EACH_RECIPIENT)
    assert not decline_hurries(AlertState.EXHAUSTED, Acknowledgement.FIRST)
    assert not decline_hurries(AlertState.ACKNOWLEDGED, Acknowledgement.FIRST)
