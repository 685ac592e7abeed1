"""The fan-out processor: recipients ∩ preferences → bell rows, held rows, push requests.

Per batch: load the directory slice and preferences (``loader``), plan (pure), then the runtime
writes the rows in one Postgres transaction and produces the push requests and the consumed
offsets in one Kafka transaction (exactly-once between the two topics).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from processors.fanout.loader import FanoutLoader
from processors.fanout.plan import FanoutPlan, plan_batch
from streams.messages import ActivityEvent, PushRequest
from streams.metrics import on_fanout_planned
from streams.records import Outcome, Output, Record
from streams.serde import AvroSerde


def push_outputs(pushes: list[PushRequest], serde: AvroSerde, topic: str) -> list[Output]:
    """Push requests as records keyed by user (fan-out, scheduler, reconciler)."""
    return [Output(topic, p.key, serde.encode(p.to_avro())) for p in pushes]


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
        events: list[ActivityEvent] = [r.value for r in batch if r.value.notify]
        if not events:
            return Outcome()
        directory, preferences = self._loader.load(events)
        plan = plan_batch(events, directory, preferences, self._clock())
        record_plan(self.name, plan)
        return Outcome(writes=plan.writes, outputs=push_outputs(plan.pushes, self._serde, self._push_topic))
