"""Wire messages as frozen dataclasses with explicit ``from_avro`` / ``to_avro``.

These are the contract between services, so they live in ``streams``; what an event *means*
(catalogue, visibility, recipients) lives in ``processors``. ``validate`` runs on both sides of
the wire: the producer SDK refuses an invalid event at the call, the runtime dead-letters one on read.
"""

from __future__ import annotations

import operator
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from streams.errors import InvalidEvent
from streams.limits import ACTIVITY_TEXT_MAX, activity_limits_problem, directory_limits_problem

AvroDict = dict[str, Any]  # a record's fields as fastavro reads and writes them

ACTIVITY_EVENT = "emr.herald.activity.ActivityEvent"
DIRECTORY_CHANGE = "emr.herald.directory.DirectoryChange"
PUSH_REQUEST = "emr.herald.push.PushRequest"

TITLE_MAX = ACTIVITY_TEXT_MAX["title"]
DESCRIPTION_MAX = ACTIVITY_TEXT_MAX["description"]
VISIBILITIES = frozenset({"all_members", "clinical_staff", "actor_and_supervisors"})
_EVENT_TYPE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")  # fullmatch: "$" would let a trailing newline through


class Priority(str, Enum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidEvent(message)


def parse_priority(value: object) -> Priority | None:
    if value is None or isinstance(value, Priority):
        return value
    try:
        return Priority(str(value).upper())
    except ValueError:
        raise InvalidEvent(f"unknown priority {value!r}; expected one of LOW, NORMAL, HIGH, URGENT") from None


def activity_problem(d: AvroDict) -> str | None:
    """The first rule an activity event breaks, or None; ``d`` is its Avro dict (or its fields as a
    dict). Shared by ``ActivityEvent.validate`` and the persister's row builder, which skips the
    dataclass. Messages are built only on failure: this runs for every event on the hot path."""
    if not d["organization_id"]:
        return "organization_id is required"
    event_type = d["event_type"]
    if not _EVENT_TYPE.fullmatch(event_type or ""):
        return (
            f"event_type {event_type!r} must be UPPER_SNAKE_CASE"
            if len(event_type or "") <= 64
            else "event_type must be UPPER_SNAKE_CASE of at most 64 characters"
        )
    if not d["title"]:
        return "title is required"
    visibility = d.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        return f"unknown visibility {visibility[:40]!r}"
    if d["occurred_at"].tzinfo is None:
        return "occurred_at must carry a time zone"
    return activity_limits_problem(d)


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """Something that happened in the EMR (schema ``activity_event.v*.avsc``)."""

    event_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    organization_id: str
    title: str
    priority: Priority | None = None
    actor_user_id: str | None = None
    patient_id: str | None = None
    encounter_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    practitioner_user_id: str | None = None
    description: str | None = None
    notify: bool = False
    visibility: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def validate(self) -> "ActivityEvent":
        """Raises InvalidEvent naming the first broken rule; returns self when valid."""
        problem = self._problem()
        if problem is not None:
            raise InvalidEvent(problem)
        return self

    def _problem(self) -> str | None:
        return activity_problem(_fields(self))

    @property
    def key(self) -> bytes:
        """Partition key: the patient, else the organization (ordering per patient)."""
        return (self.patient_id or self.organization_id).encode()

    @classmethod
    def from_avro(cls, d: AvroDict) -> "ActivityEvent":
        return cls(
            event_id=d["event_id"] if isinstance(d["event_id"], uuid.UUID) else uuid.UUID(d["event_id"]),
            event_type=d["event_type"],
            occurred_at=d["occurred_at"],
            organization_id=d["organization_id"],
            title=d["title"],
            priority=parse_priority(d.get("priority")),
            actor_user_id=d.get("actor_user_id"),
            patient_id=d.get("patient_id"),
            encounter_id=d.get("encounter_id"),
            resource_type=d.get("resource_type"),
            resource_id=d.get("resource_id"),
            practitioner_user_id=d.get("practitioner_user_id"),
            description=d.get("description"),
            notify=d.get("notify", False),
            visibility=d.get("visibility"),
            attributes=d.get("attributes") or {},
            source=d.get("source") or "",
        ).validate()

    def to_avro(self) -> AvroDict:
        d = _fields(self)  # not dataclasses.asdict: it deep-copies every value (~0.3 ms a message)
        d["event_id"] = str(self.event_id)
        d["priority"] = self.priority.value if self.priority else None
        return d


@dataclass(frozen=True, slots=True)
class DirectoryChange:
    """A user or a care-team membership as it is now (schema ``directory_change.v*.avsc``)."""

    entity: str  # "user" | "care_team_member"
    organization_id: str
    user_id: str
    changed_at: datetime
    patient_id: str | None = None
    roles: tuple[str, ...] = ()
    active: bool = True
    timezone: str | None = None
    supervisor_user_id: str | None = None

    def validate(self) -> "DirectoryChange":
        _require(self.entity in ("user", "care_team_member"), f"unknown directory entity {self.entity!r}")
        _require(bool(self.organization_id and self.user_id), "organization_id and user_id are required")
        _require(self.entity == "user" or bool(self.patient_id), "a care_team_member needs patient_id")
        problem = directory_limits_problem(_fields(self))
        _require(problem is None, problem or "")
        return self

    @property
    def key(self) -> bytes:
        if self.entity == "user":
            return f"user:{self.user_id}".encode()
        return f"care-team:{self.patient_id}:{self.user_id}".encode()

    @classmethod
    def from_avro(cls, d: AvroDict) -> "DirectoryChange":
        return cls(
            entity=d["entity"],
            organization_id=d["organization_id"],
            user_id=d["user_id"],
            changed_at=d["changed_at"],
            patient_id=d.get("patient_id"),
            roles=tuple(d.get("roles") or ()),
            active=d.get("active", True),
            timezone=d.get("timezone"),
            supervisor_user_id=d.get("supervisor_user_id"),
        ).validate()

    def to_avro(self) -> AvroDict:
        d = _fields(self)
        d["roles"] = list(self.roles)
        return d


@dataclass(frozen=True, slots=True)
class PushRequest:
    """One push to every device of one user (schema ``push_request.v*.avsc``). No PHI."""

    notification_id: uuid.UUID
    user_id: str
    organization_id: str
    event_type: str
    priority: Priority
    occurred_at: datetime
    requested_at: datetime
    kind: str = "event"
    event_id: uuid.UUID | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    digest_count: int = 0
    attempt: int = 0

    @property
    def key(self) -> bytes:
        return self.user_id.encode()

    def head(self) -> tuple[str, str]:
        """The schema's leading fields, the only ones in which one event's push requests differ."""
        return str(self.notification_id), self.user_id

    def tail(self) -> tuple[Any, ...]:
        """Every other field: push requests with equal tails encode to the same trailing bytes."""
        return _PUSH_TAIL(self)

    @classmethod
    def from_avro(cls, d: AvroDict) -> "PushRequest":
        event_id = d.get("event_id")
        return cls(
            notification_id=_as_uuid(d["notification_id"]),
            user_id=d["user_id"],
            organization_id=d["organization_id"],
            event_type=d["event_type"],
            priority=Priority(d["priority"]),
            occurred_at=d["occurred_at"],
            requested_at=d["requested_at"],
            kind=d.get("kind", "event"),
            event_id=_as_uuid(event_id) if event_id else None,
            resource_type=d.get("resource_type"),
            resource_id=d.get("resource_id"),
            digest_count=d.get("digest_count", 0),
            attempt=d.get("attempt", 0),
        )

    def to_avro(self) -> AvroDict:
        d = _fields(self)
        d["notification_id"] = str(self.notification_id)
        d["event_id"] = str(self.event_id) if self.event_id else None
        d["priority"] = self.priority.value
        return d


_PUSH_TAIL = operator.attrgetter(
    *[name for name in PushRequest.__slots__ if name not in ("notification_id", "user_id")]
)


def _fields(message: Any) -> AvroDict:
    """A shallow field dict of a slots dataclass (values are immutable or not shared)."""
    return {name: getattr(message, name) for name in message.__slots__}


def _as_uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def utcnow() -> datetime:
    """The wall clock, for edges only (rules take time as an argument)."""
    return datetime.now(timezone.utc)
