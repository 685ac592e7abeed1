"""The persister: every activity event becomes one activity_events row (idempotent on event_id); a
second version of a stored event (same id, other content) is dead-lettered as a conflicting duplicate."""

from __future__ import annotations

from typing import NamedTuple

from processors.duplicates import CONFLICTING_DUPLICATE, conflict_reason
from sinks.postgres.activity import ActivityEventSink, ActivityRow
from streams.records import DeadLetter, Message, Outcome, Record


class PersistBatch(NamedTuple):
    """One batch's rows, and the message each came from (to dead-letter the rows the sink refuses)."""

    rows: list[ActivityRow]
    messages: list[Message]


class Persister:
    """``handle`` passes the decoded rows (``sinks.postgres.activity_rows.row_from_avro``) on to ActivityEventSink."""

    name = "persister"

    def handle(self, batch: list[Record]) -> Outcome[PersistBatch]:
        return Outcome(writes=PersistBatch([record.value for record in batch], [record.message for record in batch]))


class PersisterSink:
    """ActivityEventSink for the runtime: writes a PersistBatch's rows and returns the conflicting
    duplicates it refused as dead letters (the first version of an event stays stored)."""

    def __init__(self, rows: ActivityEventSink) -> None:
        self._rows = rows

    def write(self, batch: PersistBatch) -> list[DeadLetter]:
        return [
            DeadLetter(conflict_reason(batch.rows[i][0]), CONFLICTING_DUPLICATE, batch.messages[i])
            for i in self._rows.write(batch.rows)
        ]
