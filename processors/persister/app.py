"""The persister: every activity event becomes one activity_events row (idempotent on event_id)."""
from __future__ import annotations

from psycopg.types.json import Jsonb

from streams.messages import ActivityEvent
from streams.records import Outcome, Record
from sinks.postgres.activity import ActivityRow
from processors.catalogue import lookup


def event_row(event: ActivityEvent) -> ActivityRow:
    """The row for one event, in ``sinks.postgres.activity.COLUMNS`` order. Priority and visibility
    stored are the effective ones (the event's own, else the catalogue's), so the feed query filters
    on plain columns. A plain tuple: built for every event, it is what COPY takes (~2 µs, against
    ~13 µs for a dataclass turned into a tuple here)."""
    entry = lookup(event.event_type)
    return (
        event.event_id, event.event_type, (event.priority or entry.priority).value, event.occurred_at,
        event.organization_id, event.actor_user_id, event.patient_id, event.encounter_id, event.resource_type,
        event.resource_id, event.practitioner_user_id, event.title, event.description, event.notify,
        event.visibility or entry.visibility.value, Jsonb(event.attributes),
        event.source,
    )


class Persister:
    """``handle`` turns a batch of events into rows for ActivityEventSink."""

    name = "persister"

    def handle(self, batch: list[Record]) -> Outcome:
        return Outcome(writes=[event_row(record.value) for record in batch])
