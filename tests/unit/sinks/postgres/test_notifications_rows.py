"""The fan-out plan's notifications as the rows the sink copies, in the tables' column order (no services)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from processors.catalogue import RecipientRule
from processors.notifications.decisions import PushAction
from processors.notifications.plan import BellNotification, HeldNotification
from sinks.postgres.notifications import BELL_COLUMNS, HELD_COLUMNS, bell_rows, held_rows
from streams.messages import ActivityEvent, Priority

AT = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
EVENT = ActivityEvent(
    event_id=uuid.uuid4(),
    event_type="LAB_RESULT_RECEIVED",
    occurred_at=AT,
    organization_id="org",
    title="Lab result",
    notify=True,
    patient_id="p1",
    resource_type="Observation",
    resource_id="obs-1",
)
NID = uuid.uuid4()


@pytest.mark.parametrize(
    "push, status", [(PushAction.NONE, "none"), (PushAction.NOW, "pending"), (PushAction.HOLD, "held")]
)
def test_a_bell_notification_becomes_a_user_notifications_row(push, status):
    [row] = bell_rows([BellNotification(NID, "u1", RecipientRule.CARE_TEAM, push, EVENT, Priority.NORMAL)])
    assert dict(zip(BELL_COLUMNS, row, strict=True)) == {
        "notification_id": NID,
        "user_id": "u1",
        "organization_id": "org",
        "event_id": EVENT.event_id,
        "event_type": "LAB_RESULT_RECEIVED",
        "priority": "NORMAL",
        "reason": "care_team",
        "patient_id": "p1",
        "resource_type": "Observation",
        "resource_id": "obs-1",
        "occurred_at": AT,
        "push_status": status,
        "alert_step": None,
    }
    assert type(row[5]) is str and type(row[6]) is str  # plain values for COPY, not the enums


def test_a_held_notification_becomes_a_held_notifications_row():
    until = datetime(2026, 6, 1, 13, tzinfo=timezone.utc)
    [row] = held_rows([HeldNotification(NID, "u1", RecipientRule.PRACTITIONER, EVENT, Priority.LOW, until)])
    assert dict(zip(HELD_COLUMNS, row, strict=True)) == {
        "notification_id": NID,
        "user_id": "u1",
        "organization_id": "org",
        "event_id": EVENT.event_id,
        "event_type": "LAB_RESULT_RECEIVED",
        "priority": "LOW",
        "reason": "practitioner",
        "patient_id": "p1",
        "occurred_at": AT,
        "release_at": until,
    }
