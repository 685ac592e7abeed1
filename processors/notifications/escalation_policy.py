"""Escalation policies: which event types need an acknowledgement, and who is alerted, step by step.

A policy is an ordered list of steps. Each step names its targets and how long Herald waits for an
acknowledgement after firing it before the next step fires (after the last step: before the alert is
declared exhausted). ``DEFAULT_POLICIES`` below is the catalogue's column for it, kept here because
it is built from these types; an organization may override a type's policy (the ``escalation_policies`` table), and an override with
no steps turns acknowledgement off for that type in that organization.

Stored and served as JSON (``to_json`` / ``policy_from_json``); parsing refuses anything it cannot act
on with a ``PolicyError`` that names the field, which the API returns as a 422.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from processors.catalogue import ANNOUNCEMENT_URGENT, CLINICAL_ROLES, RecipientRule

MAX_STEPS = 10
MAX_TARGETS = 10
MAX_WAIT_S = 7 * 86_400
_ID_MAX = 64  # the directory's user id and role columns


class PolicyError(ValueError):
    """A policy that cannot be acted on; the message names the offending field."""


class Acknowledgement(StrEnum):
    """What ends an alert.

    FIRST: the first acknowledgement by anyone notified; no later step fires.
    EACH_STEP: an acknowledgement by one of the latest fired step's own recipients (a late one from an
    earlier step is recorded but the escalation goes on).
    EACH_RECIPIENT: every recipient's acknowledgement is recorded; the alert is acknowledged when all
    have, and a decline never skips ahead (an urgent announcement to thousands).
    """

    FIRST = "first"
    EACH_STEP = "each_step"
    EACH_RECIPIENT = "each_recipient"


TARGET_RULES = (RecipientRule.PRACTITIONER, RecipientRule.CARE_TEAM, RecipientRule.ORGANIZATION, RecipientRule.USER)


@dataclass(frozen=True, slots=True)
class Target:
    """Who one step alerts: the event's practitioner; the patient's care team (only ``roles``, when
    given); the organization's users (only ``roles``, when given); or one named user."""

    rule: RecipientRule
    roles: frozenset[str] = frozenset()
    user_id: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.rule.value}
        if self.roles:
            out["roles"] = sorted(self.roles)
        if self.user_id:
            out["user_id"] = self.user_id
        return out


@dataclass(frozen=True, slots=True)
class EscalationStep:
    targets: tuple[Target, ...]
    wait_s: int  # after firing this step, how long to wait for an acknowledgement


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    steps: tuple[EscalationStep, ...]
    acknowledgement: Acknowledgement = Acknowledgement.FIRST

    @property
    def requires_acknowledgement(self) -> bool:
        return bool(self.steps)

    def to_json(self) -> dict[str, object]:
        return {
            "acknowledgement": self.acknowledgement.value,
            "steps": [{"targets": [t.to_json() for t in s.targets], "wait_s": s.wait_s} for s in self.steps],
        }


# The defaults. A critical result goes to the ordering practitioner; unacknowledged after 5 minutes, to the
# care team's clinicians; 10 minutes later, to the organization's medical directors; 15 minutes after
# that the alert is exhausted (and pages: the rules in deploy/prometheus/rules/). An urgent announcement records
# each recipient's acknowledgement and escalates to no one.
DEFAULT_POLICIES: dict[str, EscalationPolicy] = {
    "LAB_RESULT_CRITICAL": EscalationPolicy(
        (
            EscalationStep((Target(RecipientRule.PRACTITIONER),), 300),
            EscalationStep((Target(RecipientRule.CARE_TEAM, CLINICAL_ROLES),), 600),
            EscalationStep((Target(RecipientRule.ORGANIZATION, frozenset({"medical_director"})),), 900),
        )
    ),
    ANNOUNCEMENT_URGENT: EscalationPolicy(
        (EscalationStep((Target(RecipientRule.ORGANIZATION),), 3600),), Acknowledgement.EACH_RECIPIENT
    ),
}


def policy_for(
    organization_id: str, event_type: str, overrides: Mapping[tuple[str, str], EscalationPolicy]
) -> EscalationPolicy | None:
    """The policy an event of ``event_type`` in ``organization_id`` follows, or None (no acknowledgement):
    the organization's override when it has one, else the catalogue's default."""
    policy = overrides.get((organization_id, event_type)) or DEFAULT_POLICIES.get(event_type)
    return policy if policy is not None and policy.requires_acknowledgement else None


def policy_from_json(data: object) -> EscalationPolicy:
    """Parses a stored or submitted policy; raises PolicyError naming the first field that is wrong."""
    if not isinstance(data, Mapping):
        raise PolicyError("policy: must be an object")
    unknown = set(data) - {"acknowledgement", "steps"}
    if unknown:
        raise PolicyError(f"policy: unknown field {sorted(unknown)[0]!r}")
    try:
        mode = Acknowledgement(data.get("acknowledgement", Acknowledgement.FIRST.value))
    except ValueError:
        raise PolicyError(f"acknowledgement: one of {[m.value for m in Acknowledgement]}") from None
    steps = data.get("steps")
    if not isinstance(steps, list) or len(steps) > MAX_STEPS:
        raise PolicyError(f"steps: a list of at most {MAX_STEPS} steps")
    return EscalationPolicy(tuple(_step(s, f"steps[{i}]") for i, s in enumerate(steps)), mode)


def _step(data: object, where: str) -> EscalationStep:
    if not isinstance(data, Mapping) or set(data) - {"targets", "wait_s"}:
        raise PolicyError(f"{where}: an object with 'targets' and 'wait_s'")
    wait = data.get("wait_s")
    if not isinstance(wait, int) or isinstance(wait, bool) or not 0 <= wait <= MAX_WAIT_S:
        raise PolicyError(f"{where}.wait_s: whole seconds from 0 to {MAX_WAIT_S}")
    targets = data.get("targets")
    if not isinstance(targets, list) or not 1 <= len(targets) <= MAX_TARGETS:
        raise PolicyError(f"{where}.targets: a list of 1 to {MAX_TARGETS} targets")
    return EscalationStep(tuple(_target(t, f"{where}.targets[{i}]") for i, t in enumerate(targets)), wait)


def _target(data: object, where: str) -> Target:
    if not isinstance(data, Mapping) or set(data) - {"type", "roles", "user_id"}:
        raise PolicyError(f"{where}: an object with 'type' and, by type, 'roles' or 'user_id'")
    try:
        rule = RecipientRule(str(data.get("type")))
    except ValueError:
        rule = RecipientRule.NONE
    if rule not in TARGET_RULES:
        raise PolicyError(f"{where}.type: one of {[r.value for r in TARGET_RULES]}")
    roles = data.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and 0 < len(r) <= _ID_MAX for r in roles):
        raise PolicyError(f"{where}.roles: a list of role names")
    if roles and rule not in (RecipientRule.CARE_TEAM, RecipientRule.ORGANIZATION):
        raise PolicyError(f"{where}.roles: only a care_team or organization target takes roles")
    user_id = data.get("user_id")
    if (rule == RecipientRule.USER) != (user_id is not None):
        raise PolicyError(f"{where}.user_id: required for a user target, and only for one")
    if user_id is not None and not (isinstance(user_id, str) and 0 < len(user_id) <= _ID_MAX):
        raise PolicyError(f"{where}.user_id: a user id of at most {_ID_MAX} characters")
    return Target(rule, frozenset(roles), user_id)
