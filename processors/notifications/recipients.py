"""Who is notified of an event, and what of the directory that question needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from processors.catalogue import RecipientRule, lookup
from processors.notifications.directory import Directory
from processors.notifications.escalation_policy import EscalationPolicy, Target, policy_for
from streams.messages import ActivityEvent


@dataclass(frozen=True, slots=True)
class Recipient:
    """One user to notify of one event, and the rule that chose them."""

    user_id: str
    reason: RecipientRule


def _candidates(rule: RecipientRule, event: ActivityEvent, directory: Directory) -> Iterable[str]:
    if rule == RecipientRule.PRACTITIONER:
        return [event.practitioner_user_id] if event.practitioner_user_id else []
    if rule == RecipientRule.CARE_TEAM:
        return directory.care_team_of(event.patient_id)
    if rule == RecipientRule.ORGANIZATION:
        return [u.user_id for u in directory.users.values() if u.organization_id == event.organization_id]
    return []


def resolve_recipients(event: ActivityEvent, directory: Directory) -> list[Recipient]:
    """Called by the fan-out once per event: the active users of the event's organization its rule names.

    Empty for notify=False, rule "none" and unknown types. The actor is never a recipient; a user
    unknown to the directory, inactive or of another organization is skipped. Sorted by user_id.
    """
    entry = lookup(event.event_type)
    if not event.notify or not entry.known:
        return []
    chosen = {
        user_id
        for user_id in _candidates(entry.recipients, event, directory)
        if user_id != event.actor_user_id
        and (user := directory.users.get(user_id)) is not None
        and user.is_active_member_of(event.organization_id)
    }
    return [Recipient(user_id, entry.recipients) for user_id in sorted(chosen)]


def needed_users(
    events: Iterable[ActivityEvent], overrides: Mapping[tuple[str, str], EscalationPolicy] | None = None
) -> tuple[set[str], set[str], set[str]]:
    """What the directory slice must hold for ``resolve_recipients``, or for the first step of the alert
    an event raises: (user ids named directly, patient ids, organizations with org-wide events), so a
    loader reads only that."""
    pairs = []
    for e in events:
        policy = policy_for(e.organization_id, e.event_type, overrides or {}) if e.notify else None
        pairs.append((e, policy.steps[0].targets if policy else (Target(lookup(e.event_type).recipients),)))
    return needed_for_targets(pairs)


def needed_for_targets(
    pairs: Iterable[tuple[ActivityEvent, Iterable[Target]]],
) -> tuple[set[str], set[str], set[str]]:
    """(user ids named directly, patient ids, organizations) the targets name for their events: what a
    loader reads for a fan-out batch (``needed_users``) or for the escalator's due steps."""
    users: set[str] = set()
    patients: set[str] = set()
    organizations: set[str] = set()
    for e, targets in pairs:
        for target in targets:
            if target.rule == RecipientRule.PRACTITIONER and e.practitioner_user_id:
                users.add(e.practitioner_user_id)
            elif target.rule == RecipientRule.USER and target.user_id:
                users.add(target.user_id)
            elif target.rule == RecipientRule.CARE_TEAM and e.patient_id:
                patients.add(e.patient_id)
            elif target.rule == RecipientRule.ORGANIZATION:
                organizations.add(e.organization_id)
    return users, patients, organizations
