"""One alert's history as the API serves it, and the rules the API applies to a recipient's answer.

Pure. ``api.alerts_queries`` reads the rows; ``assemble`` turns them into an ``AlertRecord``, which
``api.alert_schemas`` renders as JSON and ``api.fhir`` as FHIR Communications, so both say the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from processors.notifications.alerts import (
    AckStatus,
    AlertState,
    ack_status,
    decline_advances,
    state_after_acknowledgement,
)
from processors.notifications.escalation_policy import Acknowledgement, PolicyError, policy_from_json


@dataclass(frozen=True, slots=True)
class Push:
    """What FCM did with a notification's pushes: accepted (any device's delivery ``sent``; ``accepted_at``
    is the first such), else every status its deliveries have (none: no push was attempted)."""

    accepted: bool
    accepted_at: datetime | None
    statuses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Notified:
    user_id: str
    notification_id: uuid.UUID
    notified_at: datetime
    push: Push
    acknowledged_at: datetime | None
    declined_at: datetime | None
    status: AckStatus


@dataclass(frozen=True, slots=True)
class Skip:
    user_id: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Step:
    step: int
    due_at: datetime
    fired_at: datetime | None
    cancelled_at: datetime | None
    notified: tuple[Notified, ...]
    skipped: tuple[Skip, ...]


@dataclass(frozen=True, slots=True)
class LogEntry:
    step: int
    user_id: str | None
    action: str
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """No title or description: the alert shows what the feed's row says about the event's kind, never
    its free text."""

    event_id: uuid.UUID
    event_type: str
    priority: str
    patient_id: str | None
    resource_type: str | None
    resource_id: str | None
    state: AlertState
    raised_at: datetime
    closed_at: datetime | None
    acknowledged_by: str | None
    policy: dict[str, Any]
    steps: tuple[Step, ...]
    history: tuple[LogEntry, ...]


def push_outcome(sent_at: datetime | None, statuses: Iterable[str] | None) -> Push:
    """``sent_at``: the first ``sent`` delivery's time, if any; ``statuses``: every delivery's status."""
    if sent_at is not None:
        return Push(True, sent_at, ("sent",))
    return Push(False, None, tuple(sorted(set(statuses or ()))))


def normalized_policy(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The alert's policy as ``to_json`` writes it; a stored one this version cannot parse, as stored."""
    try:
        return policy_from_json(stored).to_json()
    except PolicyError:
        return dict(stored)


def acknowledgement_mode(stored: Mapping[str, Any]) -> Acknowledgement:
    """The mode the alert was raised with; FIRST when its stored policy no longer parses (the safe end:
    any acknowledgement closes the alert rather than none)."""
    try:
        return policy_from_json(stored).acknowledgement
    except PolicyError:
        return Acknowledgement.FIRST


def assemble(
    alert: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    notifications: Sequence[Mapping[str, Any]],
    log: Sequence[Mapping[str, Any]],
) -> AlertRecord:
    """``alert``: the alerts row; ``steps``: its alert_steps rows; ``notifications``: its alert
    notifications (alert_step, user_id, notification_id, created_at, acknowledged_at, declined_at,
    sent_at, statuses); ``log``: its alert_log rows in order."""
    state = AlertState(alert["state"])
    by_step: dict[int, list[Notified]] = {}
    for n in sorted(notifications, key=lambda n: (n["alert_step"], n["user_id"])):
        by_step.setdefault(n["alert_step"], []).append(
            Notified(
                n["user_id"],
                n["notification_id"],
                n["created_at"],
                push_outcome(n["sent_at"], n["statuses"]),
                n["acknowledged_at"],
                n["declined_at"],
                ack_status(n["acknowledged_at"], n["declined_at"], state),
            )
        )
    history = tuple(LogEntry(e["step"], e["user_id"], e["action"], e["detail"], e["at"]) for e in log)
    skipped: dict[int, list[Skip]] = {}
    for entry in history:
        if entry.action == "skipped":
            skipped.setdefault(entry.step, []).append(Skip(entry.user_id, entry.detail))
    return AlertRecord(
        event_id=alert["event_id"],
        event_type=alert["event_type"],
        priority=alert["priority"],
        patient_id=alert["patient_id"],
        resource_type=alert["resource_type"],
        resource_id=alert["resource_id"],
        state=state,
        raised_at=alert["raised_at"],
        closed_at=alert["closed_at"],
        acknowledged_by=alert["acknowledged_by"],
        policy=normalized_policy(alert["policy"]),
        steps=tuple(
            Step(
                s["step"],
                s["due_at"],
                s["fired_at"],
                s["cancelled_at"],
                tuple(by_step.get(s["step"], ())),
                tuple(skipped.get(s["step"], ())),
            )
            for s in sorted(steps, key=lambda s: s["step"])
        ),
        history=history,
    )


# --- answers -----------------------------------------------------------------------------------------


def state_after_answer(
    current: AlertState,
    mode: Acknowledgement,
    *,
    latest_step: int,
    acknowledged_step: int,
    recipients: int,
    acknowledged: int,
) -> AlertState:
    """The alert's state after a recipient acknowledged (``acknowledged`` counts them, this one included).

    Open: ``state_after_acknowledgement``. Acknowledged: stays. Exhausted: the escalation is over, so
    nothing would come of waiting for the latest step's recipients; a late acknowledgement ends it as
    acknowledged, except under EACH_RECIPIENT, which still needs every recipient's
    (docs/decisions/0182-late-acknowledgement.md)."""
    if current == AlertState.ACKNOWLEDGED:
        return current
    if current == AlertState.EXHAUSTED and mode != Acknowledgement.EACH_RECIPIENT:
        return AlertState.ACKNOWLEDGED
    after = state_after_acknowledgement(
        mode,
        latest_step=latest_step,
        acknowledged_step=acknowledged_step,
        recipients=recipients,
        acknowledged=acknowledged,
    )
    return after if after == AlertState.ACKNOWLEDGED else current


def decline_hurries(current: AlertState, mode: Acknowledgement) -> bool:
    """Whether a decline makes the alert's pending timer due now: only while it is open."""
    return current == AlertState.OPEN and decline_advances(mode)
