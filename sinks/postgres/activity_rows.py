"""An activity event as its activity_events row, in ``sinks.postgres.activity.COLUMNS`` order: built by
the persister's decoder straight from the Avro record (``row_from_avro``) and by the fan-out, which
marks the events it fans out, from the event (``event_row``). The sink owns the mapping of the domain's
values to rows; the catalogue gives the effective priority and visibility stored."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from processors.catalogue import lookup
from sinks.postgres.activity import ActivityRow
from streams.errors import InvalidEvent
from streams.messages import ActivityEvent, activity_problem


def event_row(event: ActivityEvent) -> ActivityRow:
    """The row for one event, in ``sinks.postgres.activity.COLUMNS`` order. Priority and visibility
    stored are the effective ones (the event's own, else the catalogue's), so the feed query filters
    on plain columns. A plain tuple: built for every event, it is what COPY takes, far cheaper than a
    dataclass turned into a tuple (docs/decisions/0036-hot-path-shortcuts.md)."""
    entry = lookup(event.event_type)
    return (
        event.event_id,
        event.event_type,
        (event.priority or entry.priority).value,
        event.occurred_at,
        event.organization_id,
        event.actor_user_id,
        event.patient_id,
        event.encounter_id,
        event.resource_type,
        event.resource_id,
        event.practitioner_user_id,
        event.title,
        event.description,
        event.notify,
        event.visibility or entry.visibility.value,
        Jsonb(event.attributes),
        event.source,
    )


def row_from_avro(d: dict[str, Any]) -> ActivityRow:
    """``event_row(ActivityEvent.from_avro(d))`` without the dataclass in between: the persister's
    decoder. Same rules (``activity_problem``), same InvalidEvent reasons, same row, at about half the
    cost: the frozen dataclass's constructor is most of the difference (docs/decisions/0036-hot-path-shortcuts.md)."""
    event_id, event_type, occurred_at = d["event_id"], d["event_type"], d["occurred_at"]
    organization_id, title, description, visibility = (
        d["organization_id"],
        d["title"],
        d.get("description"),
        d.get("visibility"),
    )
    problem = activity_problem(d)
    if problem is not None:
        raise InvalidEvent(problem)
    entry = lookup(event_type)
    return (
        event_id if type(event_id) is uuid.UUID else uuid.UUID(event_id),
        event_type,
        d.get("priority") or entry.priority.value,
        occurred_at,
        organization_id,
        d.get("actor_user_id"),
        d.get("patient_id"),
        d.get("encounter_id"),
        d.get("resource_type"),
        d.get("resource_id"),
        d.get("practitioner_user_id"),
        title,
        description,
        d.get("notify", False),
        visibility or entry.visibility.value,
        Jsonb(d.get("attributes") or {}),
        d.get("source") or "",
    )
