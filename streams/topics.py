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


# Retention and segment settings of each topic, with why: docs/operations.md#topic-retention-and-sizing
# and docs/decisions/0240-activity-topic-keeps-the-feed-window.md. Every value is set explicitly, even
# where it equals Kafka's default, so that ``herald topics sync`` can tell a topic that drifted.
DAY_MS = 24 * 3600 * 1000
GIB = 1024**3
MIB = 1024**2
# The activity topic keeps what the feed keeps (400 days by default), so ``herald rebuild feed`` can
# rebuild every row the feed still holds from the log.
ACTIVITY_RETENTION_DAYS = 400
PUSH_RETENTION_DAYS = 7
DLQ_RETENTION_DAYS = 30
DLQ_RETENTION_BYTES = 10 * GIB  # per partition (one): a guard against a poison flood filling the disk

# Kafka deletes (and compacts) whole closed segments only: a segment rolled every day means a record
# goes at most a day after its retention, not up to a week (the default segment.ms) later.
_DAILY_SEGMENTS = {"segment.ms": str(DAY_MS)}


def retained(days: int, *, retention_bytes: int = -1, segment_bytes: int = GIB) -> dict[str, str]:
    """Config of a delete-policy topic kept ``days`` days (``retention_bytes`` per partition, -1: no
    size limit), rolled daily."""
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(days * DAY_MS),
        "retention.bytes": str(retention_bytes),
        "segment.bytes": str(segment_bytes),
        **_DAILY_SEGMENTS,
    }


# The directory topic is compacted: the latest record per key is the directory. A tombstone (a removal)
# must outlive the longest outage of the directory processor, or a processor resuming after it never sees
# the removal (delete.retention.ms: 7 days). Segments roll daily and compaction starts at 10 % dirty, so
# superseded users and memberships leave the log within about a day (max.compaction.lag.ms bounds it to 7
# days whatever the dirty ratio), and a new reader replays little more than the live directory.
DIRECTORY_CONFIG = {
    "cleanup.policy": "compact",
    "min.compaction.lag.ms": "60000",
    "max.compaction.lag.ms": str(7 * DAY_MS),
    "delete.retention.ms": str(7 * DAY_MS),
    "min.cleanable.dirty.ratio": "0.1",
    "segment.bytes": str(128 * MIB),
    **_DAILY_SEGMENTS,
}


def topic_specs(
    partitions: int = 12, push_partitions: int | None = None, activity_retention_days: int = ACTIVITY_RETENTION_DAYS
) -> list[TopicSpec]:
    """Every topic Herald uses; ``partitions`` sizes the activity topic, ``push_partitions`` the push
    topic (default: ``PUSH_PARTITIONS``, or ``partitions`` when that is smaller);
    ``activity_retention_days`` is how far back ``herald rebuild feed`` can go."""
    push_partitions = push_partitions or min(partitions, PUSH_PARTITIONS)
    dlq = retained(DLQ_RETENTION_DAYS, retention_bytes=DLQ_RETENTION_BYTES, segment_bytes=128 * MIB)
    return [
        TopicSpec(ACTIVITY, partitions, retained(activity_retention_days)),
        TopicSpec(ACTIVITY_DLQ, 1, dlq),
        TopicSpec(DIRECTORY, 3, DIRECTORY_CONFIG),
        TopicSpec(DIRECTORY_DLQ, 1, dlq),
        TopicSpec(PUSH, push_partitions, retained(PUSH_RETENTION_DAYS)),
        TopicSpec(PUSH_DLQ, 1, dlq),
        # One marker per replayed dead letter, each key unique: compaction removes nothing, and a marker
        # must never go before its dead letter (a replay would run twice). Markers are ~100 bytes.
        TopicSpec(DLQ_REPLAYS, 1, {"cleanup.policy": "compact"}),
    ]
