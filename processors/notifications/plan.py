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

from processors.catalogue import RecipientRule, effective_priority, lookup
from processors.notifications.decisions import Decision, PushAction, decide
from processors.notifications.directory import Directory
from processors.notifications.ids import notification_id
from processors.notifications.preferences import Preferences, default_preferences
from processors.notifications.recipients import Recipient, resolve_recipients
from streams.messages import ActivityEvent, Priority, PushRequest


class BellNotification(NamedTuple):
    """One notification in a user's bell; ``push`` says what became of its push (a named tuple: an
    announcement plans 10,000 of them)."""

    notification_id: uuid.UUID
    user_id: str
    reason: RecipientRule
    push: PushAction
    event: ActivityEvent
    priority: Priority  # the event's effective priority


class HeldNotification(NamedTuple):
    """A push held for quiet hours until ``release_at`` (its bell notification is planned too)."""

    notification_id: uuid.UUID
    user_id: str
    reason: RecipientRule
    event: ActivityEvent
    priority: Priority
    release_at: datetime


@dataclass
class FanoutPlan:
    """What one batch does. ``marked``: every notify=true event, once, to be marked as fanned out in
    the same transaction as its notifications (so the reconciler leaves it alone)."""

    marked: list[ActivityEvent] = field(default_factory=list)
    bell: list[BellNotification] = field(default_factory=list)
    held: list[HeldNotification] = field(default_factory=list)
    pushes: list[PushRequest] = field(default_factory=list)
    unknown_types: int = 0

    @property
    def bell_only(self) -> int:
        """Bell notifications with no push, now or held."""
        return len(self.bell) - len(self.pushes) - len(self.held)


def plan_batch(
    events: Iterable[ActivityEvent], directory: Directory, preferences: Mapping[str, Preferences], now: datetime
) -> FanoutPlan:
    """Bell notifications, held pushes and push requests for every notify=true event; every such event marked."""
    plan = FanoutPlan()
    unique: dict[uuid.UUID, ActivityEvent] = {}
    for e in events:
        if e.notify:
            unique.setdefault(e.event_id, e)  # the first copy of an event (the fan-out drops conflicting ones before)
    for event in unique.values():
        plan.marked.append(event)
        if not lookup(event.event_type).known:
            plan.unknown_types += 1
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
    plan.bell.append(BellNotification._make((nid, recipient.user_id, recipient.reason, decision.push, event, priority)))
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
