"""Settings of the fan-out (``herald run fanout``)."""

from __future__ import annotations

from pydantic import Field

from streams.settings import HERALD_CONFIG, ProcessorSettings


class FanoutSettings(ProcessorSettings):
    """Settings of ``herald run fanout``."""

    model_config = HERALD_CONFIG

    exactly_once: bool = Field(
        default=True,
        description="Fan-out: push requests and input offsets in one Kafka transaction; false: at-least-once",
    )
    # Twice the others' wait: each fan-out batch is a Postgres transaction and a Kafka transaction (markers
    # on every push partition), so half as many batches leave CPU to the push sender
    # (docs/decisions/0032-short-batch-waits.md).
    batch_timeout_s: float = Field(
        default=0.1, gt=0, description="Fan-out's longest wait for a batch to fill, in seconds"
    )
