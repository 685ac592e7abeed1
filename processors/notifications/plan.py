"""Planning one fan-out batch: events + directory + preferences + now → notifications and push requests.

Pure, and shared by the fan-out processor and the reconciler, so both decide identically. The plan
holds domain values (which event, which user, why, what push); the Postgres sink maps them to its
rows, so no table's column order leaks into the rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from processors.catalogue import effective_priority, lookup
from processors.notifications.alerts import StepPlan, plan_step
from processors.notifications.bell import BellNotification, HeldNotification
from processors.notifications.decisions import Decision, PushAction, decide
from processors.notifications.directory import Directory
from processors.notifications.escalation_policy import EscalationPolicy, policy_for
from processors.notifications.ids import notification_id
from processors.notifications.preferences import Preferences, default_preferences
from processors.notifications.recipients import Recipient, resolve_recipients
from streams.messages import ActivityEvent, Priority, PushRequest

__all__ = ["BellNotification", "FanoutPlan", "HeldNotification", "RaisedAlert", "plan_batch"]


class RaisedAlert(NamedTuple):
    """An alert the fan-out raised: its event, the policy it follows (fixed for its life, so an edit
    never changes a running alert), and its step 0 as fired (the notifications are in the plan's bell
    and pushes; ``first_step`` keeps the skips and when step 1 is due)."""

    event: ActivityEvent
    policy: EscalationPolicy
    first_step: StepPlan


@dataclass
class FanoutPlan:
    """What one batch does. ``marked``: every notify=true event, once, to be marked as fanned out in
    the same transaction as its notifications (so the reconciler leaves it alone)."""

    marked: list[ActivityEvent] = field(default_factory=list)
    bell: list[BellNotification] = field(default_factory=list)
    held: list[HeldNotification] = field(default_factory=list)
    pushes: list[PushRequest] = field(default_factory=list)
    alerts: list[RaisedAlert] = field(default_factory=list)
    unknown_types: int = 0

    @property
    def bell_only(self) -> int:
        """Bell notifications with no push, now or held."""
        return len(self.bell) - len(self.pushes) - len(self.held)


def plan_batch(
    events: Iterable[ActivityEvent],
    directory: Directory,
    preferences: Mapping[str, Preferences],
    now: datetime,
    overrides: Mapping[tuple[str, str], EscalationPolicy] | None = None,
) -> FanoutPlan:
    """Bell notifications, held pushes and push requests for every notify=true event; every such event
    marked. An event whose type needs acknowledgement (``policy_for``, with the organizations'
    ``overrides``) raises an alert instead, and its notifications are the alert's step 0."""
    plan = FanoutPlan()
    unique: dict[uuid.UUID, ActivityEvent] = {}
    for e in events:
        if e.notify:
            unique.setdefault(e.event_id, e)  # the first copy of an event (the fan-out drops conflicting ones before)
    for event in unique.values():
        plan.marked.append(event)
        if not lookup(event.event_type).known:
            plan.unknown_types += 1
        elif (policy := policy_for(event.organization_id, event.event_type, overrides or {})) is not None:
            first = plan_step(
                event, policy, 0, directory, preferences, notified_before=frozenset(), raised_at=now, now=now
            )
            plan.bell += first.bell
            plan.pushes += first.pushes
            plan.alerts.append(RaisedAlert(event, policy, first))
            continue
        each = _PerEvent(event, effective_priority(event), event.event_id.bytes)
        for recipient in resolve_recipients(event, directory):
            prefs = preferences.get(recipient.user_id) or default_preferences(directory.zone_of(recipient.user_id))
            _apply(plan, each, recipient, decide(event, recipient, prefs, now), now)
    return plan


class _PerEvent(NamedTuple):
    """What every recipient of one event shares, computed once (an announcement has 10,000)."""

    event: ActivityEvent
    priority: Priority
    namespace: bytes  # event_id.bytes, for notification_id


def _apply(plan: FanoutPlan, each: _PerEvent, recipient: Recipient, decision: Decision, now: datetime) -> None:
    if not decision.in_app and decision.push == PushAction.NONE:
        return
    event, priority = each.event, each.priority
    nid = notification_id(event.event_id, recipient.user_id, namespace=each.namespace)
    plan.bell.append(
        BellNotification._make((nid, recipient.user_id, recipient.reason, decision.push, event, priority, None))
    )
    if decision.push == PushAction.HOLD:
        assert decision.release_at is not None  # decide sets it for every HOLD
        plan.held.append(
            HeldNotification._make((nid, recipient.user_id, recipient.reason, event, priority, decision.release_at))
        )
    elif decision.push == PushAction.NOW:
        plan.pushes.append(
            PushRequest(
                notification_id=nid,
                user_id=recipient.user_id,
                organization_id=event.organization_id,
                event_type=event.event_type,
                priority=priority,
                occurred_at=event.occurred_at,
                requested_at=now,
                event_id=event.event_id,
                resource_type=event.resource_type,
                resource_id=event.resource_id,
            )
        )
