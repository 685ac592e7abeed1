"""Planning one fan-out batch: events + directory + preferences + now → rows and push requests.

Pure: the app loads the directory slice and the preferences, passes ``now``, and carries
the plan out. Shared by the fan-out processor and the reconciler, so both decide identically.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping, NamedTuple

from processors.catalogue import effective_priority, lookup
from processors.fanout.rules import (Decision, Directory, Preferences, PushAction, Recipient, decide,
                                     default_preferences, notification_id, resolve_recipients)
from processors.persister.app import event_row
from sinks.postgres.notifications import BellRow, FanoutWrites, HeldRow
from streams.messages import ActivityEvent, Priority, PushRequest


@dataclass
class FanoutPlan:
    writes: FanoutWrites = field(default_factory=FanoutWrites)
    pushes: list[PushRequest] = field(default_factory=list)
    recipients: int = 0
    unknown_types: int = 0


def needed_users(events: Iterable[ActivityEvent]) -> tuple[set[str], set[str], set[str]]:
    """What the directory slice must hold: (practitioner ids, patient ids, organizations with org-wide events)."""
    practitioners, patients, organizations = set(), set(), set()
    for e in events:
        rule = lookup(e.event_type).recipients
        if rule == "practitioner" and e.practitioner_user_id:
            practitioners.add(e.practitioner_user_id)
        elif rule == "care_team" and e.patient_id:
            patients.add(e.patient_id)
        elif rule == "organization":
            organizations.add(e.organization_id)
    return practitioners, patients, organizations


def plan_batch(events: Iterable[ActivityEvent], directory: Directory, preferences: Mapping[str, Preferences],
               now: datetime) -> FanoutPlan:
    """Bell rows, held rows and push requests for every notify=true event; every such event marked."""
    plan = FanoutPlan()
    unique: dict = {}
    for e in events:
        if e.notify:
            unique.setdefault(e.event_id, e)  # the first copy of an event (the fan-out drops conflicting ones before)
    for event in unique.values():
        plan.writes.events.append(event_row(event))
        if not lookup(event.event_type).known:
            plan.unknown_types += 1
        each = _PerEvent(event, effective_priority(event), event.event_id.bytes)
        for recipient in resolve_recipients(event, directory):
            prefs = preferences.get(recipient.user_id) or default_preferences(_zone_of(directory, recipient.user_id))
            _apply(plan, each, recipient, decide(event, recipient, prefs, now), now)
    return plan


def _zone_of(directory: Directory, user_id: str) -> str | None:
    user = directory.users.get(user_id)
    return user.timezone if user else None


class _PerEvent(NamedTuple):
    """What every recipient of one event shares, computed once (an announcement has 10,000)."""

    event: ActivityEvent
    priority: Priority
    namespace: bytes  # event_id.bytes, for notification_id


_STATUS = {PushAction.NONE: "none", PushAction.NOW: "pending", PushAction.HOLD: "held"}


def _apply(plan: FanoutPlan, each: _PerEvent, recipient: Recipient, decision: Decision, now: datetime) -> None:
    if not decision.in_app and decision.push == PushAction.NONE:
        return
    plan.recipients += 1
    event, priority = each.event, each.priority
    nid = notification_id(event.event_id, recipient.user_id, namespace=each.namespace)
    plan.writes.bell.append(BellRow._make((
        nid, recipient.user_id, event.organization_id, event.event_id, event.event_type, priority.value,
        recipient.reason.value, event.patient_id, event.resource_type, event.resource_id, event.occurred_at,
        _STATUS[decision.push])))
    if decision.push == PushAction.HOLD:
        plan.writes.held.append(HeldRow._make((
            nid, recipient.user_id, event.organization_id, event.event_id, event.event_type, priority.value,
            recipient.reason.value, event.patient_id, event.occurred_at, decision.release_at)))
    elif decision.push == PushAction.NOW:
        plan.pushes.append(PushRequest(
            notification_id=nid, user_id=recipient.user_id, organization_id=event.organization_id,
            event_type=event.event_type, priority=priority, occurred_at=event.occurred_at, requested_at=now,
            event_id=event.event_id, resource_type=event.resource_type, resource_id=event.resource_id))
