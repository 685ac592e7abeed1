"""Topic specs of the design: names (before the prefix), partitions, configs."""
from __future__ import annotations

from dataclasses import dataclass, field

ACTIVITY = "activity-events.v1"
ACTIVITY_DLQ = "activity-events.dlq.v1"
DIRECTORY = "directory.v1"
PUSH = "notifications.push.v1"
PUSH_DLQ = "notifications.push.dlq.v1"
DLQ_REPLAYS = "dlq-replays.v1"  # compacted: one marker per replayed DLQ record (cli/dlq.py)

DLQ_OF = {ACTIVITY: ACTIVITY_DLQ, PUSH: PUSH_DLQ, DIRECTORY: ACTIVITY_DLQ}


@dataclass(frozen=True)
class TopicSpec:
    """One topic as ``herald topics create`` makes it."""

    base: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(partitions: int = 12) -> list[TopicSpec]:
    """Every topic Herald uses; ``partitions`` sizes the busy ones."""
    week_ms = str(7 * 24 * 3600 * 1000)
    dlq = {"retention.ms": str(30 * 24 * 3600 * 1000)}
    return [
        TopicSpec(ACTIVITY, partitions, {"retention.ms": week_ms}),
        TopicSpec(ACTIVITY_DLQ, 1, dlq),
        TopicSpec(DIRECTORY, 3, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
        TopicSpec(PUSH, partitions, {"retention.ms": week_ms}),
        TopicSpec(PUSH_DLQ, 1, dlq),
        TopicSpec(DLQ_REPLAYS, 1, {"cleanup.policy": "compact"}),
    ]
