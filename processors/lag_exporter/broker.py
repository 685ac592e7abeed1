"""What the lag exporter asks the broker: groups, their state and members, committed offsets, log
start and end offsets, and the record at a group's position (read by a group-less reader).

Every function raises ``KafkaException`` when the broker does not answer within its timeout; the
exporter then keeps its previous reading until it turns stale (freshness.py). Committed offsets are
read by a consumer of the group, never by the AdminClient (see streams/admin.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from processors.lag_exporter.rules import OldestRecord, PartitionOffsets
from streams.admin import read_committed

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class GroupInfo:
    """A group's state (lower case: stable, empty, dead, ...), its members and the topics they hold."""

    group: str
    state: str
    members: int
    assigned_topics: frozenset[str]


def list_groups(admin: AdminClient, prefix: str, timeout_s: float = TIMEOUT_S) -> list[str]:
    """Every group on the broker whose id starts with ``prefix``, in any state (Empty included)."""
    listing = admin.list_consumer_groups(request_timeout=timeout_s).result(2 * timeout_s)
    if listing.errors:  # a broker that did not answer: its groups are missing, not gone
        raise listing.errors[0] if isinstance(listing.errors[0], Exception) else KafkaException(listing.errors[0])
    return sorted(g.group_id for g in listing.valid if g.group_id.startswith(prefix))


def describe_groups(admin: AdminClient, groups: list[str], timeout_s: float = TIMEOUT_S) -> dict[str, GroupInfo]:
    """State and members of each group; a group the broker no longer knows comes back ``dead``."""
    if not groups:
        return {}
    out = {}
    for group, future in admin.describe_consumer_groups(groups, request_timeout=timeout_s).items():
        d = future.result(2 * timeout_s)
        topics = frozenset(
            tp.topic for m in d.members for tp in (m.assignment.topic_partitions if m.assignment else [])
        )
        out[group] = GroupInfo(group, d.state.name.lower(), len(d.members), topics)
    return out


def committed_offsets(
    offset_reader, partitions: list[tuple[str, int]], timeout_s: float = TIMEOUT_S
) -> dict[tuple[str, int], int]:
    """The offsets the reader's group has committed on any of ``partitions``, by (topic, partition);
    partitions it never committed on are left out (empty for an unknown group)."""
    answered = read_committed(offset_reader, [TopicPartition(t, p) for t, p in partitions], timeout_s)
    return {key: offset for key, offset in answered.items() if offset >= 0}


def topic_partitions(admin: AdminClient, prefix: str = "", timeout_s: float = TIMEOUT_S) -> list[tuple[str, int]]:
    """Every partition of every topic named ``prefix*`` (internal ``__`` topics and topics in error
    left out): where a group's committed offsets are looked for."""
    metadata = admin.list_topics(timeout=timeout_s).topics
    return sorted(
        (t, p)
        for t, m in metadata.items()
        if t.startswith(prefix) and not t.startswith("__") and m.error is None
        for p in m.partitions
    )


def watermarks(
    admin: AdminClient, partitions: list[tuple[str, int]], timeout_s: float = TIMEOUT_S
) -> dict[tuple[str, int], tuple[int, int]]:
    """(log start offset, last stable offset) of each partition: the range a read-committed consumer sees."""
    if not partitions:
        return {}
    tps = [TopicPartition(t, p) for t, p in partitions]
    starts = _offsets(admin, tps, OffsetSpec.earliest(), timeout_s)
    ends = _offsets(admin, tps, OffsetSpec.latest(), timeout_s)
    return {key: (starts[key], ends[key]) for key in starts}


def _offsets(
    admin: AdminClient, tps: list[TopicPartition], spec: OffsetSpec, timeout_s: float
) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets(
        {tp: spec for tp in tps}, isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=timeout_s
    )
    return {(tp.topic, tp.partition): f.result(2 * timeout_s).offset for tp, f in futures.items()}


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
