"""The fan-out processor: recipients ∩ preferences → bell rows, held rows, push requests.

Per batch: leave out conflicting duplicates (``processors/duplicates.py``: a second version of a stored
event is dead-lettered, the first version's effects stay), load the directory slice and preferences
(``loader``), plan (pure), then the runtime
writes the rows in one Postgres transaction and produces the push requests and the consumed
offsets in one Kafka transaction (exactly-once between the two topics).
"""
from __future__ import annotations

from datetime import datetime, timezone
from itertools import groupby
from typing import Callable

from processors.duplicates import first_versions
from processors.fanout.loader import FanoutLoader
from processors.fanout.plan import FanoutPlan, plan_batch
from processors.persister.app import event_row
from sinks.postgres.activity import row_content
from streams.messages import ActivityEvent, PushRequest
from streams.metrics import on_fanout_planned
from streams.records import Outcome, Output, Record
from streams.serde import AvroSerde


def push_outputs(pushes: list[PushRequest], serde: AvroSerde, topic: str) -> list[Output]:
    """Push requests as records keyed by user (fan-out, scheduler, reconciler).

    The pushes of one event differ only in their head (notification_id, user_id), so each run of
    pushes with the same tail is encoded once and spliced per recipient (``encode_with_heads``)."""
    outputs = []
    for _, run in groupby(pushes, key=PushRequest.tail):
        run = list(run)
        values = serde.encode_with_heads(run[0].to_avro(), [p.head() for p in run])
        outputs += [Output(topic, p.key, value) for p, value in zip(run, values)]
    return outputs


def record_plan(processor: str, plan: FanoutPlan) -> None:
    held = len(plan.writes.held)
    on_fanout_planned(processor, pushed=len(plan.pushes), held=held,
                      bell_only=len(plan.writes.bell) - len(plan.pushes) - held, unknown_types=plan.unknown_types)


class Fanout:
    name = "fanout"

    def __init__(self, loader: FanoutLoader, serde: AvroSerde, push_topic: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._loader = loader
        self._serde = serde
        self._push_topic = push_topic
        self._clock = clock

    def handle(self, batch: list[Record]) -> Outcome:
        notify = [r for r in batch if r.value.notify]
        if not notify:
            return Outcome()
        kept, conflicting = first_versions(notify, self._loader.stored_contents([r.value.event_id for r in notify]),
                                           key=_event_id, content=_content)
        events: list[ActivityEvent] = [r.value for r in kept]
        if not events:
            return Outcome(dead_letters=conflicting)
        directory, preferences = self._loader.load(events)
        plan = plan_batch(events, directory, preferences, self._clock())
        record_plan(self.name, plan)
        return Outcome(writes=plan.writes, outputs=push_outputs(plan.pushes, self._serde, self._push_topic),
                       dead_letters=conflicting)


def _event_id(record: Record):
    return record.value.event_id


def _content(record: Record) -> tuple:
    return row_content(event_row(record.value))
