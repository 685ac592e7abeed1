"""The fan-out processor: recipients ∩ preferences → bell rows, held rows, push requests.

Per batch: leave out conflicting duplicates (``processors/duplicates.py``: a second version of a stored
event is dead-lettered, the first version's effects stay), load the directory slice and preferences
(``processors/notifications_io/loader.py``), plan (pure, ``processors/notifications/plan.py``), then the runtime
writes the rows in one Postgres transaction and produces the push requests and the consumed
offsets in one Kafka transaction (exactly-once between the two topics).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable
from uuid import UUID

from processors.duplicates import first_versions
from processors.notifications.plan import plan_batch
from processors.notifications_io.loader import DirectoryLoader
from processors.notifications_io.metrics import on_fanout_planned
from processors.notifications_io.pushes import push_outputs
from processors.notifications_io.writes import writes_of
from sinks.postgres.activity import row_content
from sinks.postgres.activity_rows import event_row
from sinks.postgres.notifications import FanoutWrites
from streams import tracing
from streams.messages import ActivityEvent
from streams.records import Outcome, Record
from streams.serde import AvroSerde


class Fanout:
    name = "fanout"

    def __init__(
        self,
        loader: DirectoryLoader,
        serde: AvroSerde,
        push_topic: str,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._loader = loader
        self._serde = serde
        self._push_topic = push_topic
        self._clock = clock

    def handle(self, batch: list[Record]) -> Outcome[FanoutWrites]:
        notify = [r for r in batch if r.value.notify]
        if not notify:
            return Outcome()
        kept, conflicting = first_versions(
            notify, self._loader.stored_contents([r.value.event_id for r in notify]), key=_event_id, content=_content
        )
        events: list[ActivityEvent] = [r.value for r in kept]
        if not events:
            return Outcome(dead_letters=conflicting)
        overrides = self._loader.overrides(events)
        directory, preferences = self._loader.load(events, overrides)
        plan = plan_batch(events, directory, preferences, self._clock(), overrides)
        on_fanout_planned(self.name, plan)
        return Outcome(
            writes=writes_of(plan),
            outputs=push_outputs(plan.pushes, self._serde, self._push_topic, _trace_headers(kept)),
            dead_letters=conflicting,
        )


def _trace_headers(records: list[Record]) -> Callable[[UUID | None], list[tuple[str, bytes]] | None] | None:
    """Each traced event's context by event id, for its push requests (None when tracing is off)."""
    if not tracing.ACTIVE:
        return None
    traced = {r.value.event_id: h for r in records if (h := tracing.headers_of(r.message)) is not None}
    return traced.get if traced else None


def _event_id(record: Record) -> UUID:
    event_id: UUID = record.value.event_id
    return event_id


def _content(record: Record) -> tuple[object, ...]:
    return row_content(event_row(record.value))
