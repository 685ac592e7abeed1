"""What the lag exporter asks the broker: groups, their state and members, committed offsets, log
start and end offsets, and the record at a group's position (read by a group-less reader).

Every function raises ``KafkaException`` when the broker does not answer; the exporter then keeps
its previous reading (and says so through its staleness metric).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from processors.lag_exporter.rules import OldestRecord, PartitionOffsets

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GroupInfo:
    """A group's state (lower case: stable, empty, dead, ...), its members and the topics they hold."""

    group: str
    state: str
    members: int
    assigned_topics: frozenset[str]


def list_groups(admin: AdminClient, prefix: str) -> list[str]:
    """Every group on the broker whose id starts with ``prefix``, in any state (Empty included)."""
    listing = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result()
    return sorted(g.group_id for g in listing.valid if g.group_id.startswith(prefix))


def describe_groups(admin: AdminClient, groups: list[str]) -> dict[str, GroupInfo]:
    """State and members of each group; a group the broker no longer knows comes back ``dead``."""
    if not groups:
        return {}
    out = {}
    for group, future in admin.describe_consumer_groups(groups, request_timeout=TIMEOUT_S).items():
        d = future.result()
        topics = frozenset(tp.topic for m in d.members for tp in (m.assignment.topic_partitions if m.assignment else []))
        out[group] = GroupInfo(group, d.state.name.lower(), len(d.members), topics)
    return out


def committed_offsets(admin: AdminClient, group: str) -> dict[tuple[str, int], int]:
    """Every offset ``group`` has committed, by (topic, partition); empty for an unknown group."""
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=TIMEOUT_S)
    return {(tp.topic, tp.partition): tp.offset for tp in futures[group].result().topic_partitions}


def partitions_of(admin: AdminClient, topics: set[str]) -> list[tuple[str, int]]:
    """Every partition of the ``topics`` that exist (a deleted topic is skipped)."""
    if not topics:
        return []
    metadata = admin.list_topics(timeout=TIMEOUT_S).topics
    return sorted((t, p) for t in topics if t in metadata and metadata[t].error is None for p in metadata[t].partitions)


def watermarks(admin: AdminClient, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, int]]:
    """(log start offset, last stable offset) of each partition: the range a read-committed consumer sees."""
    if not partitions:
        return {}
    tps = [TopicPartition(t, p) for t, p in partitions]
    starts = _offsets(admin, tps, OffsetSpec.earliest())
    ends = _offsets(admin, tps, OffsetSpec.latest())
    return {key: (starts[key], ends[key]) for key in starts}


def _offsets(admin: AdminClient, tps: list[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in tps}, isolation_level=IsolationLevel.READ_COMMITTED,
                                 request_timeout=TIMEOUT_S)
    return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}


def read_oldest(reader, wanted: list[PartitionOffsets], timeout_s: float) -> dict[tuple[str, int, int], OldestRecord]:
    """Reads the first visible record at each wanted (topic, partition, position) with ``reader``, a
    consumer that never joins a group (assign + seek) and reports partition EOF. Positions that did
    not answer within ``timeout_s`` are missing from the result."""
    found: dict[tuple[str, int, int], OldestRecord] = {}
    for batch in _rounds(wanted):  # a partition can be assigned once at a time
        answers = _read_round(reader, batch, timeout_s)
        for o in batch:
            if (o.topic, o.partition) in answers:
                found[(o.topic, o.partition, o.position)] = answers[(o.topic, o.partition)]
    return found


def _rounds(wanted: list[PartitionOffsets]) -> list[list[PartitionOffsets]]:
    """Splits the positions into rounds in which each partition appears at most once."""
    rounds: list[list[PartitionOffsets]] = []
    for o in wanted:
        free = next((r for r in rounds if all((x.topic, x.partition) != (o.topic, o.partition) for x in r)), None)
        if free is None:
            rounds.append(free := [])
        free.append(o)
    return rounds


def _read_round(reader, batch: list[PartitionOffsets], timeout_s: float) -> dict[tuple[str, int], OldestRecord]:
    reader.assign([TopicPartition(o.topic, o.partition, o.position) for o in batch])
    pending = {(o.topic, o.partition) for o in batch}
    found: dict[tuple[str, int], OldestRecord] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while pending and time.monotonic() < deadline:
            for msg in reader.consume(500, min(0.2, max(deadline - time.monotonic(), 0.01))):
                _note(msg, pending, found)
    finally:
        reader.unassign()
    return found


def _note(msg, pending: set, found: dict) -> None:
    """Takes the first answer per partition: a record (its timestamp) or EOF (nothing visible)."""
    key = (msg.topic(), msg.partition())
    if key not in pending:
        return
    err = msg.error()
    if err is None:
        _, ts = msg.timestamp()
        found[key] = OldestRecord(True, ts if ts > 0 else None)
    elif err.code() == KafkaError._PARTITION_EOF:
        found[key] = OldestRecord(False)
    else:
        return
    pending.discard(key)
