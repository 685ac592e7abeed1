"""Urgent alerts: who one escalation step alerts, what it sends, and how acknowledgements end an alert.

Pure. The fan-out plans step 0 with the event's other notifications; the escalator plans each later
step when its wait runs out; the API applies ``state_after_acknowledgement`` and ``decline_advances``.
An alert notification always gets its bell row; its push goes out at once, URGENT, whatever the user's
type filters and quiet hours say, unless the user turned push off altogether.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from processors.catalogue import RecipientRule, effective_priority
from processors.notifications.bell import BellNotification
from processors.notifications.decisions import PushAction
from processors.notifications.directory import Directory
from processors.notifications.escalation_policy import Acknowledgement, EscalationPolicy, Target
from processors.notifications.ids import alert_notification_id
from processors.notifications.preferences import Preferences, default_preferences
from streams.messages import ActivityEvent, Priority, PushRequest

ALERT_PUSH_KIND = "alert"  # PushRequest.kind of an alert's push: URGENT, time-sensitive, asks for acknowledgement


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    EXHAUSTED = "exhausted"


class SkipReason(StrEnum):
    """Why a user a step names was not alerted; recorded in the alert's history."""

    ACTOR = "actor"  # the user whose action raised the event
    UNKNOWN_USER = "unknown_user"  # not in the directory
    INACTIVE = "inactive"  # deactivated, or moved to another organization
    LEFT_CARE_TEAM = "left_care_team"  # left the patient's care team after the alert was raised
    ALREADY_NOTIFIED = "already_notified"  # alerted at an earlier step; that notification still awaits


class Skipped(NamedTuple):
    user_id: str
    reason: SkipReason


@dataclass
class StepPlan:
    """What firing step ``step`` of an alert does. ``next_due_at``: when the step after it (or, after
    the last, the exhaustion check) is due, if nobody acknowledges first."""

    step: int
    fired_at: datetime
    next_due_at: datetime
    bell: list[BellNotification] = field(default_factory=list)
    pushes: list[PushRequest] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def plan_step(
    event: ActivityEvent,
    policy: EscalationPolicy,
    step: int,
    directory: Directory,
    preferences: Mapping[str, Preferences],
    *,
    notified_before: frozenset[str],
    raised_at: datetime,
    now: datetime,
) -> StepPlan:
    """Step ``step`` (0-based, < len(policy.steps)) of the alert ``event`` raised at ``raised_at``.
    ``notified_before``: the users earlier steps alerted."""
    plan = StepPlan(step, now, now + timedelta(seconds=policy.steps[step].wait_s))
    again = policy.acknowledgement == Acknowledgement.EACH_STEP  # an earlier step's acknowledgement does not count
    chosen, plan.skipped = step_recipients(
        event, policy.steps[step].targets, directory, () if again else notified_before, raised_at
    )
    priority = effective_priority(event)
    for user_id, reason in chosen:
        prefs = preferences.get(user_id) or default_preferences(directory.zone_of(user_id))
        push = PushAction.NOW if prefs.push_enabled else PushAction.NONE
        nid = alert_notification_id(event.event_id, user_id, step)
        plan.bell.append(BellNotification(nid, user_id, reason, push, event, priority, step))
        if push == PushAction.NOW:
            plan.pushes.append(alert_push(event, nid, user_id, now))
    return plan


def alert_push(event: ActivityEvent, notification_id: uuid.UUID, user_id: str, now: datetime) -> PushRequest:
    return PushRequest(
        notification_id=notification_id,
        user_id=user_id,
        organization_id=event.organization_id,
        event_type=event.event_type,
        priority=Priority.URGENT,
        occurred_at=event.occurred_at,
        requested_at=now,
        event_id=event.event_id,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        kind=ALERT_PUSH_KIND,
    )


def step_recipients(
    event: ActivityEvent,
    targets: Iterable[Target],
    directory: Directory,
    notified_before: Iterable[str],
    raised_at: datetime,
) -> tuple[list[tuple[str, RecipientRule]], list[Skipped]]:
    """(user, the target rule that chose them) for every user the targets name who may be alerted now,
    sorted by user; and those named but skipped, with why. A user named by two targets counts once."""
    named: dict[str, RecipientRule] = {}
    skipped: dict[str, SkipReason] = {}
    for target in targets:
        for user_id in _named(target, event, directory):
            named.setdefault(user_id, target.rule)
        if target.rule == RecipientRule.CARE_TEAM and event.patient_id:
            for user_id, left_at in directory.former_members.get(event.patient_id, {}).items():
                if left_at >= raised_at and user_id not in named:
                    skipped[user_id] = SkipReason.LEFT_CARE_TEAM
    before = frozenset(notified_before)
    chosen = []
    for user_id in sorted(named):
        reason = _skip_reason(user_id, event, directory, before)
        if reason is None:
            chosen.append((user_id, named[user_id]))
        else:
            skipped[user_id] = reason
    return chosen, [Skipped(u, r) for u, r in sorted(skipped.items())]


def _named(target: Target, event: ActivityEvent, directory: Directory) -> Iterable[str]:
    if target.rule == RecipientRule.PRACTITIONER:
        return [event.practitioner_user_id] if event.practitioner_user_id else []
    if target.rule == RecipientRule.USER:
        return [target.user_id] if target.user_id else []
    if target.rule == RecipientRule.CARE_TEAM:
        team = directory.care_team_of(event.patient_id)
        return [u for u in team if not target.roles or _has_role(directory, u, target.roles)]
    # The organization: its active members only; its former staff would fill the history with skips.
    return [
        u.user_id
        for u in directory.users.values()
        if u.is_active_member_of(event.organization_id) and (not target.roles or u.roles & target.roles)
    ]


def _has_role(directory: Directory, user_id: str, roles: frozenset[str]) -> bool:
    user = directory.users.get(user_id)
    return user is None or bool(user.roles & roles)  # an unknown user is kept, to be recorded as skipped


def _skip_reason(user_id: str, event: ActivityEvent, directory: Directory, before: frozenset[str]) -> SkipReason | None:
    if user_id == event.actor_user_id:
        return SkipReason.ACTOR
    user = directory.users.get(user_id)
    if user is None:
        return SkipReason.UNKNOWN_USER
    if not user.is_active_member_of(event.organization_id):
        return SkipReason.INACTIVE
    if user_id in before:
        return SkipReason.ALREADY_NOTIFIED
    return None


def state_after_acknowledgement(
    mode: Acknowledgement, *, latest_step: int, acknowledged_step: int, recipients: int, acknowledged: int
) -> AlertState:
    """The state of an open alert after a recipient of ``acknowledged_step`` acknowledged, when the
    latest fired step is ``latest_step`` and ``acknowledged`` of the ``recipients`` alerted so far have
    acknowledged (this one included)."""
    if mode == Acknowledgement.FIRST:
        return AlertState.ACKNOWLEDGED
    if mode == Acknowledgement.EACH_STEP:
        return AlertState.ACKNOWLEDGED if acknowledged_step == latest_step else AlertState.OPEN
    return AlertState.ACKNOWLEDGED if acknowledged >= recipients else AlertState.OPEN


def decline_advances(mode: Acknowledgement) -> bool:
    """Whether a decline makes the next step (or the exhaustion check) due at once. Not for
    EACH_RECIPIENT: one of thousands declining must not end an announcement for everyone."""
    return mode != Acknowledgement.EACH_RECIPIENT


class AckStatus(StrEnum):
    """A bell notification's acknowledgement, as the bell shows it."""

    AWAITING = "awaiting"
    ACKNOWLEDGED = "acknowledged"
    DECLINED = "declined"
    CLOSED = "closed"  # the alert ended (acknowledged by someone else, or exhausted) without this user's answer


def ack_status(
    acknowledged_at: datetime | None, declined_at: datetime | None, alert_state: AlertState | None
) -> AckStatus:
    """The status of one alert notification; ``alert_state`` None (no alert row) reads as closed."""
    if acknowledged_at is not None:
        return AckStatus.ACKNOWLEDGED
    if declined_at is not None:
        return AckStatus.DECLINED
    return AckStatus.AWAITING if alert_state == AlertState.OPEN else AckStatus.CLOSED
