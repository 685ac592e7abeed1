"""The persister: every activity event becomes one activity_events row (idempotent on event_id)."""
from __future__ import annotations

from streams.messages import ActivityEvent
from streams.records import Outcome, Record
from sinks.postgres.activity import ActivityRow
from processors.catalogue import effective_priority, effective_visibility


def event_row(event: ActivityEvent) -> ActivityRow:
    """The row for one event. Priority and visibility stored are the effective ones (the event's own,
    else the catalogue's), so the feed query filters on plain columns."""
    return ActivityRow(
        event_id=event.event_id, event_type=event.event_type, priority=effective_priority(event).value,
        occurred_at=event.occurred_at, organization_id=event.organization_id, actor_user_id=event.actor_user_id,
        patient_id=event.patient_id, encounter_id=event.encounter_id, resource_type=event.resource_type,
        resource_id=event.resource_id, practitioner_user_id=event.practitioner_user_id, title=event.title,
        description=event.description, notify=event.notify, visibility=effective_visibility(event).value,
        attributes=event.attributes, source=event.source,
    )


class Persister:
    """``handle`` turns a batch of events into rows for ActivityEventSink."""

    name = "persister"

    def handle(self, batch: list[Record]) -> Outcome:
        return Outcome(writes=[event_row(record.value) for record in batch])
