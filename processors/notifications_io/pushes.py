"""Push requests as Kafka records, for every processor that notifies (fan-out, scheduler, reconciler)."""

from __future__ import annotations

from itertools import groupby
from typing import Callable
from uuid import UUID

from streams.messages import PushRequest
from streams.records import Output
from streams.serde import AvroSerde


def push_outputs(
    pushes: list[PushRequest],
    serde: AvroSerde,
    topic: str,
    headers_of: Callable[[UUID | None], list[tuple[str, bytes]] | None] | None = None,
) -> list[Output]:
    """Push requests as records keyed by user; ``headers_of`` (by event id): the trace context of the
    event each push comes from, when it is traced (``streams.tracing.headers_of``).

    The pushes of one event differ only in their head (notification_id, user_id), so each run of
    pushes with the same tail is encoded once and spliced per recipient (``encode_with_heads``)."""
    outputs: list[Output] = []
    for _, same_tail in groupby(pushes, key=PushRequest.tail):
        run = list(same_tail)
        values = serde.encode_with_heads(run[0].to_avro(), [p.head() for p in run])
        headers = headers_of(run[0].event_id) if headers_of is not None else None  # one event per run
        outputs += [Output(topic, p.key, value, headers) for p, value in zip(run, values, strict=True)]
    return outputs
