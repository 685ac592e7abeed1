"""Request and response bodies of the read API (pydantic), and the documented error shape."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool, ValidationInfo, field_validator

from api.cursor import encode_cursor
from api.queries import UNREAD_CAP
from processors.catalogue import CATALOGUE, lookup
from processors.notifications.alerts import AlertState, ack_status

HH_MM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # fullmatch: no trailing newline slips through
# Identifiers and event types: printable text only. A NUL byte would reach Postgres (which refuses it)
# and a control character has no place in an id; the same pattern is in the OpenAPI document.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]+$"
PATIENT_ID_PATTERN = PRINTABLE_PATTERN
INSTALLATION_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
TOKEN_PATTERN = r"^[A-Za-z0-9_:.-]+$"
# IANA zones only: "localtime" and "Factory" are files of the tz database, not zones a user lives in.
_PSEUDO_ZONES = frozenset({"localtime", "Factory", "posixrules"})
ZONE_NAMES = tuple(
    sorted(z for z in available_timezones() if z not in _PSEUDO_ZONES and not z.startswith(("posix/", "right/")))
)
_ZONES = frozenset(ZONE_NAMES)
PriorityName = Literal["LOW", "NORMAL", "HIGH", "URGENT"]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field or parameter, e.g. `quiet_hours_start`.")
    reason: str


class Problem(BaseModel):
    """Every error: a message; a 422 also lists each field and why it was refused."""

    message: str
    errors: list[FieldError] = Field(default_factory=list)


ERROR_RESPONSES: dict[int | str, dict] = {
    401: {"model": Problem, "description": "Missing, invalid or expired bearer token."},
    403: {"model": Problem, "description": "Authenticated, but not allowed."},
    404: {"model": Problem, "description": "Not found, or not visible to the caller."},
    422: {"model": Problem, "description": "A parameter or body field is invalid."},
}
_EVENT_TYPES: list[JsonValue] = [*sorted(CATALOGUE)]  # the catalogue's types, as the JSON schema lists them
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body is not valid JSON."}
}


# --- feed and timeline -------------------------------------------------------------------------------


class ActivityItem(BaseModel):
    """One activity event as the feed shows it."""

    event_id: uuid.UUID
    event_type: str
    priority: str
    occurred_at: datetime
    actor_user_id: str | None
    patient_id: str | None
    encounter_id: str | None
    resource_type: str | None
    resource_id: str | None
    title: str
    description: str | None
    visibility: str | None
    attributes: dict[str, Any]


class FeedPage(BaseModel):
    items: list[ActivityItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last page.")

    @classmethod
    def of(cls, rows: list, limit: int) -> "FeedPage":
        """``rows`` were fetched with ``limit + 1``: the extra row only says that there is a next page."""
        items = [ActivityItem.model_validate(r._asdict()) for r in rows[:limit]]
        more = len(rows) > limit
        return cls(items=items, next_cursor=encode_cursor(items[-1].occurred_at, items[-1].event_id) if more else None)


# --- the bell ----------------------------------------------------------------------------------------


class AcknowledgementState(BaseModel):
    """An alert notification's answer: ``awaiting`` (the alert is open and the caller has not answered),
    ``acknowledged``, ``declined``, or ``closed`` (the alert ended without the caller's answer)."""

    status: Literal["awaiting", "acknowledged", "declined", "closed"]
    step: int = Field(description="The escalation step that sent it (0 = the first).")


class NotificationItem(BaseModel):
    """A bell entry: a generic, PHI-free ``title`` from the catalogue, and the event's own title
    (``event_title``) only while the caller may still see that event in the feed."""

    notification_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    priority: str
    reason: str
    title: str
    event_title: str | None
    patient_id: str | None
    resource_type: str | None
    resource_id: str | None
    occurred_at: datetime
    created_at: datetime
    read_at: datetime | None
    acknowledgement: AcknowledgementState | None = Field(
        description="Null for an ordinary notification; set for an urgent alert's, which asks for an answer."
    )

    @classmethod
    def of(cls, row) -> "NotificationItem":
        values = row._asdict()
        answer = None
        if values.get("alert_step") is not None:
            state = AlertState(values["alert_state"]) if values.get("alert_state") else None
            status = ack_status(values["acknowledged_at"], values["declined_at"], state)
            answer = AcknowledgementState(status=status.value, step=values["alert_step"])
        return cls.model_validate({**values, "title": lookup(row.event_type).push_title, "acknowledgement": answer})


class UnreadCount(BaseModel):
    """Exact up to ``cap``; beyond it ``count == cap`` and ``capped`` is true (show "999+")."""

    count: int
    capped: bool
    cap: int

    @classmethod
    def of(cls, counted: int) -> "UnreadCount":
        """``counted`` was counted up to UNREAD_CAP + 1."""
        return cls(count=min(counted, UNREAD_CAP), capped=counted > UNREAD_CAP, cap=UNREAD_CAP)


class NotificationPage(BaseModel):
    items: list[NotificationItem]
    next_cursor: str | None
    unread: UnreadCount = Field(description="Counted in the same snapshot as the page.")

    @classmethod
    def of(cls, rows: list, limit: int, unread: int) -> "NotificationPage":
        items = [NotificationItem.of(r) for r in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        return cls(
            items=items,
            next_cursor=encode_cursor(last.created_at, last.notification_id) if last else None,
            unread=UnreadCount.of(unread),
        )


class ReadReceipt(BaseModel):
    notification_id: uuid.UUID
    read_at: datetime


class ReadAllRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: uuid.UUID | None = Field(
        default=None, description="Mark this notification and every older one; default: all unread."
    )


class ReadAllResult(BaseModel):
    marked: int


# --- preferences -------------------------------------------------------------------------------------

# The pattern is stated in the document and enforced by ``_hh_mm`` (with a message that shows the format).
HhMm = Annotated[
    str,
    Field(
        description="24-hour wall time `HH:MM` in `timezone`.",
        examples=["22:00"],
        json_schema_extra={"pattern": HH_MM_PATTERN},
    ),
]


class _PreferencesFields(BaseModel):
    push_enabled: StrictBool  # true/false only: 0, "yes" and "on" are what the document does not allow
    email_enabled: StrictBool
    enabled_types: list[str] = Field(max_length=4 * len(CATALOGUE))
    min_push_priority: PriorityName
    quiet_hours_start: HhMm | None = None
    quiet_hours_end: HhMm | None = Field(default=None, validate_default=True)
    timezone: str | None = Field(default=None, description="IANA zone, e.g. `Europe/Berlin`; null = UTC.")


def _quiet_hours_rules() -> dict:
    """The two cross-field rules of quiet hours in JSON Schema, which cannot compare two values: both
    set or both null; and start != end, stated as "the hours differ or the minutes differ", one
    pattern pair per hour and per minute (84 small schemas instead of 1,440 pairs)."""
    start, end = "quiet_hours_start", "quiet_hours_end"

    hours = [
        {
            "required": [start, end],
            "properties": {
                start: {"type": "string", "pattern": f"^{h:02d}:"},
                end: {"type": "string", "pattern": f"^{h:02d}:"},
            },
        }
        for h in range(24)
    ]
    minutes = [
        {
            "required": [start, end],
            "properties": {
                start: {"type": "string", "pattern": f":{m:02d}$"},
                end: {"type": "string", "pattern": f":{m:02d}$"},
            },
        }
        for m in range(60)
    ]
    return {
        "allOf": [
            {
                "anyOf": [
                    {"properties": {start: {"type": "null"}, end: {"type": "null"}}},
                    {"required": [start, end], "properties": {start: {"type": "string"}, end: {"type": "string"}}},
                ]
            },
            {"anyOf": [{"not": {"anyOf": hours}}, {"not": {"anyOf": minutes}}]},
        ]
    }


class PreferencesBody(_PreferencesFields):
    """A user's notification preferences; PUT replaces them whole. Quiet hours are both set (a window
    that may cross midnight; start and end differ) or both null (off)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_quiet_hours_rules())

    enabled_types: list[str] = Field(
        max_length=4 * len(CATALOGUE), json_schema_extra={"items": {"type": "string", "enum": _EVENT_TYPES}}
    )

    timezone: str | None = Field(
        default=None,
        description="IANA zone, e.g. `Europe/Berlin`; null = UTC.",
        json_schema_extra={"enum": [*ZONE_NAMES, None]},
    )

    @field_validator("enabled_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted({t for t in value if t not in CATALOGUE})
        if unknown:
            raise ValueError(f"unknown event types: {', '.join(unknown)}")
        return sorted(set(value))

    @field_validator("quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _hh_mm(cls, value: str | None) -> str | None:
        if value is not None and not _HH_MM.fullmatch(value):
            raise ValueError("must be a 24-hour time HH:MM, e.g. 22:00")
        return value

    @field_validator("quiet_hours_end")
    @classmethod
    def _window(cls, end: str | None, info: ValidationInfo) -> str | None:
        if "quiet_hours_start" not in info.data:  # start itself was refused; already reported
            return end
        start = info.data["quiet_hours_start"]
        if (start is None) != (end is None):
            raise ValueError("quiet_hours_start and quiet_hours_end are set together or both null")
        if start is not None and start == end:
            raise ValueError("must differ from quiet_hours_start")
        return end

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is not None and value not in _ZONES:
            raise ValueError("not an IANA time zone name, e.g. Europe/Berlin")
        return value

    def window(self) -> tuple[time | None, time | None]:
        return _parse(self.quiet_hours_start), _parse(self.quiet_hours_end)


class PreferencesOut(_PreferencesFields):
    """What is in force for the caller."""

    stored: bool = Field(description="False: the user never saved preferences and these are the defaults.")


def _parse(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def hh_mm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value else None


# --- devices -----------------------------------------------------------------------------------------


class DeviceRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=1, max_length=4096, pattern=TOKEN_PATTERN, description="The FCM registration token of this device."
    )
    platform: Literal["android", "ios", "web"]
    installation_id: str | None = Field(
        default=None,
        min_length=16,
        max_length=128,
        pattern=INSTALLATION_ID_PATTERN,
        description="A random id the app generates once per installation and keeps (e.g. 32 hex digits). Sent "
        "with every registration; a token another user of the organization registered moves to the "
        "caller only when this matches the id sent with it then. Only a hash is stored.",
    )


class Device(BaseModel):
    token: str
    platform: str
    last_seen_at: datetime
