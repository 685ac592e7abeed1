"""Request and response bodies of urgent alerts: answers, an alert's history, escalation policies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.alert_record import AlertRecord
from api.alerts_queries import Answer
from api.errors import FieldInvalid
from api.schemas import PRINTABLE_PATTERN
from processors.notifications.escalation_policy import (
    DEFAULT_POLICIES,
    MAX_STEPS,
    MAX_TARGETS,
    MAX_WAIT_S,
    EscalationPolicy,
    PolicyError,
    policy_from_json,
)

AckStatusName = Literal["awaiting", "acknowledged", "declined", "closed"]
AlertStateName = Literal["open", "acknowledged", "exhausted"]


class AcknowledgementOut(BaseModel):
    """A recipient's answer to an alert notification, and the alert's state after it."""

    notification_id: uuid.UUID
    event_id: uuid.UUID
    step: int = Field(description="The escalation step that sent this notification (0 = the first).")
    status: AckStatusName
    acknowledged_at: datetime | None
    declined_at: datetime | None
    alert_state: AlertStateName

    @classmethod
    def of(cls, answer: Answer) -> "AcknowledgementOut":
        return cls(
            notification_id=answer.notification_id,
            event_id=answer.event_id,
            step=answer.step,
            status=answer.status.value,
            acknowledged_at=answer.acknowledged_at,
            declined_at=answer.declined_at,
            alert_state=answer.alert_state.value,
        )


# --- one alert ---------------------------------------------------------------------------------------


class PushOut(BaseModel):
    accepted: bool = Field(description="FCM accepted a push of this notification for at least one device.")
    accepted_at: datetime | None
    statuses: list[str] = Field(description="When not accepted: the deliveries' statuses (empty: no push tried).")


class NotifiedOut(BaseModel):
    user_id: str
    notification_id: uuid.UUID
    notified_at: datetime
    push: PushOut
    status: AckStatusName
    acknowledged_at: datetime | None
    declined_at: datetime | None


class SkippedOut(BaseModel):
    user_id: str | None
    reason: str | None


class StepOut(BaseModel):
    step: int = Field(description="0-based; the step after the last one is the exhaustion check.")
    due_at: datetime
    fired_at: datetime | None
    cancelled_at: datetime | None
    notified: list[NotifiedOut]
    skipped: list[SkippedOut]


class HistoryEntry(BaseModel):
    step: int
    user_id: str | None
    action: str = Field(description="skipped (detail: why), acknowledged, declined or exhausted.")
    detail: str | None
    at: datetime


class AlertOut(BaseModel):
    """An alert and everything that happened to it. No title or description of the event."""

    event_id: uuid.UUID
    event_type: str
    priority: str
    state: AlertStateName
    raised_at: datetime
    closed_at: datetime | None
    acknowledged_by: str | None
    policy: dict[str, Any] = Field(description="The escalation policy the alert follows (fixed when it was raised).")
    steps: list[StepOut]
    history: list[HistoryEntry]

    @classmethod
    def of(cls, record: AlertRecord) -> "AlertOut":
        return cls(
            event_id=record.event_id,
            event_type=record.event_type,
            priority=record.priority,
            state=record.state.value,
            raised_at=record.raised_at,
            closed_at=record.closed_at,
            acknowledged_by=record.acknowledged_by,
            policy=record.policy,
            steps=[
                StepOut(
                    step=s.step,
                    due_at=s.due_at,
                    fired_at=s.fired_at,
                    cancelled_at=s.cancelled_at,
                    notified=[
                        NotifiedOut(
                            user_id=n.user_id,
                            notification_id=n.notification_id,
                            notified_at=n.notified_at,
                            push=PushOut(
                                accepted=n.push.accepted, accepted_at=n.push.accepted_at, statuses=list(n.push.statuses)
                            ),
                            status=n.status.value,
                            acknowledged_at=n.acknowledged_at,
                            declined_at=n.declined_at,
                        )
                        for n in s.notified
                    ],
                    skipped=[SkippedOut(user_id=k.user_id, reason=k.reason) for k in s.skipped],
                )
                for s in record.steps
            ],
            history=[
                HistoryEntry(step=h.step, user_id=h.user_id, action=h.action, detail=h.detail, at=h.at)
                for h in record.history
            ],
        )


# --- escalation policies -----------------------------------------------------------------------------

Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE_PATTERN)]


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PractitionerTarget(_Target):
    """The event's practitioner."""

    type: Literal["practitioner"]
    roles: list[Name] = Field(default_factory=list, max_length=0)
    user_id: None = None


class CareTeamTarget(_Target):
    """The patient's care team; only members with one of ``roles``, when given."""

    type: Literal["care_team"]
    roles: list[Name] = Field(default_factory=list, max_length=32)
    user_id: None = None


class OrganizationTarget(_Target):
    """The organization's active members; only those with one of ``roles``, when given."""

    type: Literal["organization"]
    roles: list[Name] = Field(default_factory=list, max_length=32)
    user_id: None = None


class UserTarget(_Target):
    """One named user."""

    type: Literal["user"]
    roles: list[Name] = Field(default_factory=list, max_length=0)
    user_id: Name


Target = Annotated[PractitionerTarget | CareTeamTarget | OrganizationTarget | UserTarget, Field(discriminator="type")]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[Target] = Field(min_length=1, max_length=MAX_TARGETS)
    wait_s: int = Field(
        ge=0, le=MAX_WAIT_S, description="Seconds to wait for an acknowledgement before the next step fires."
    )


class PolicyBody(BaseModel):
    """An escalation policy. ``{"steps": []}`` turns acknowledgement off for the type in the organization.

    ``acknowledgement``: what ends an alert: ``first`` (anyone notified acknowledges), ``each_step`` (a
    recipient of the latest fired step), ``each_recipient`` (everyone notified; a decline skips nothing)."""

    model_config = ConfigDict(extra="forbid")

    acknowledgement: Literal["first", "each_step", "each_recipient"] = "first"
    steps: list[StepIn] = Field(max_length=MAX_STEPS)

    @model_validator(mode="before")
    @classmethod
    def _parses(cls, data: Any) -> Any:
        """The policy module is the authority on what a policy is: its PolicyError (which names the
        field) is the 422 the caller sees. Raised as FieldInvalid, which pydantic does not wrap."""
        data = _whole_waits(data)
        try:
            policy_from_json(data)
        except PolicyError as exc:
            field, _, reason = str(exc).partition(": ")
            raise FieldInvalid(field, reason or str(exc)) from None
        return data

    def policy(self) -> EscalationPolicy:
        return policy_from_json(self.model_dump(exclude_none=True))


def _whole_waits(data: Any) -> Any:
    """``wait_s: 60.0`` is the JSON integer 60 (JSON Schema's ``integer`` allows it), so it is read as one."""
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return data
    steps = [
        {**s, "wait_s": int(s["wait_s"])}
        if isinstance(s, dict) and isinstance(s.get("wait_s"), float) and s["wait_s"].is_integer()
        else s
        for s in data["steps"]
    ]
    return {**data, "steps": steps}


class PolicyOut(BaseModel):
    event_type: str
    source: Literal["default", "override"] = Field(
        description="`override`: the organization's own; `default`: Herald's, for an organization without one."
    )
    policy: dict[str, Any]
    requires_acknowledgement: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


class PolicyList(BaseModel):
    items: list[PolicyOut]


def override_out(row) -> PolicyOut:
    policy = policy_from_json(row.policy)
    return PolicyOut(
        event_type=row.event_type,
        source="override",
        policy=policy.to_json(),
        requires_acknowledgement=policy.requires_acknowledgement,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def effective_policies(overrides: Iterable) -> PolicyList:
    """Each type's override, else its default; an override this version cannot parse is left out, so
    the default shows, as the fan-out applies it (``sinks.postgres.alerts.load_overrides``)."""
    found: dict[str, PolicyOut] = {
        event_type: PolicyOut(
            event_type=event_type,
            source="default",
            policy=policy.to_json(),
            requires_acknowledgement=policy.requires_acknowledgement,
        )
        for event_type, policy in DEFAULT_POLICIES.items()
    }
    for row in overrides:
        try:
            found[row.event_type] = override_out(row)
        except PolicyError:
            continue
    return PolicyList(items=[found[t] for t in sorted(found)])
