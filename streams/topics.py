"""Herald's topics: names (before the prefix), partitions, configs."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIVITY = "activity-events.v1"
ACTIVITY_DLQ = "activity-events.dlq.v1"
DIRECTORY = "directory.v1"
DIRECTORY_DLQ = "directory.dlq.v1"  # directory records that cannot be applied (a bad key, a key/value mismatch)
PUSH = "notifications.push.v1"
PUSH_DLQ = "notifications.push.dlq.v1"
DLQ_REPLAYS = "dlq-replays.v1"  # compacted: one marker per replayed DLQ record (cli/dlq.py)

DLQ_OF = {ACTIVITY: ACTIVITY_DLQ, PUSH: PUSH_DLQ, DIRECTORY: DIRECTORY_DLQ}


@dataclass(frozen=True)
class TopicSpec:
    """One topic as ``herald topics create`` makes it."""

    base: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


# The push topic's partitions. Every exactly-once fan-out transaction writes to each of them (keys are
# user ids) and pays per partition: a produce request (librdkafka sends one partition per request) and
# the broker's AddPartitionsToTxn verification (docs/decisions/0012-push-topic-partitions.md). Six let
# six push-sender replicas share the work; raise it (``herald topics create --push-partitions``) for more.
PUSH_PARTITIONS = 6


def topic_specs(partitions: int = 12, push_partitions: int | None = None) -> list[TopicSpec]:
    """Every topic Herald uses; ``partitions`` sizes the activity topic, ``push_partitions`` the push
    topic (default: ``PUSH_PARTITIONS``, or ``partitions`` when that is smaller)."""
    push_partitions = push_partitions or min(partitions, PUSH_PARTITIONS)
    week_ms = str(7 * 24 * 3600 * 1000)
    dlq = {"retention.ms": str(30 * 24 * 3600 * 1000)}
    return [
        TopicSpec(ACTIVITY, partitions, {"retention.ms": week_ms}),
        TopicSpec(ACTIVITY_DLQ, 1, dlq),
        TopicSpec(DIRECTORY, 3, {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}),
        TopicSpec(DIRECTORY_DLQ, 1, dlq),
        TopicSpec(PUSH, push_partitions, {"retention.ms": week_ms}),
        TopicSpec(PUSH_DLQ, 1, dlq),
        TopicSpec(DLQ_REPLAYS, 1, {"cleanup.policy": "compact"}),
    ]
