"""Lag math of the lag exporter, pure: offsets and timestamps in, lag out; no broker, no clock.

Lag is judged from the broker alone, as Burrow and kminion do: a group's committed offset against
the partition's end offset (the last stable offset, since Herald reads committed records only). Lag
in seconds is the age of the oldest record the group has not consumed: the record at its position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class PartitionOffsets:
    """One group's committed offset on one partition, with the partition's log start and end."""

    topic: str
    partition: int
    committed: int  # negative: the group never committed on this partition
    start: int
    end: int

    @property
    def position(self) -> int:
        """Where the group resumes: its committed offset, or the log start when it has none or
        retention deleted past it (every Herald consumer uses auto.offset.reset=earliest)."""
        return max(self.committed, self.start)

    @property
    def behind(self) -> int:
        return max(self.end - self.position, 0)


@dataclass(frozen=True)
class OldestRecord:
    """What a read at a group's position found: the first visible record (and its timestamp, None if
    the record carries none), or nothing visible before the end (``visible=False``)."""

    visible: bool
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    position: int
    end: int
    messages: int
    seconds: float | None  # None: unknown (the read did not answer in time)


@dataclass(frozen=True)
class GroupLag:
    """One consumer group as the broker sees it: state, member count and per-partition lag."""

    group: str
    state: str
    members: int
    partitions: tuple[PartitionLag, ...] = ()

    @property
    def messages(self) -> int:
        return sum(p.messages for p in self.partitions)

    @property
    def seconds(self) -> float:
        """The worst known partition's lag in seconds (0 with no partitions)."""
        return max((p.seconds for p in self.partitions if p.seconds is not None), default=0.0)


def partition_lag(group: str, offsets: PartitionOffsets, oldest: OldestRecord | None, now_s: float) -> PartitionLag:
    """Lag of one partition. ``oldest`` is what a read at the position found, None when no read answered.

    Nothing visible between position and end means only transaction commit markers (or aborted
    records) remain: a read-committed consumer of a transactional topic commits the offset after its
    last record, which is the marker's, so the raw difference stays at 1 forever; that is lag 0.
    """
    messages = offsets.behind
    if messages and oldest is not None and not oldest.visible:
        messages = 0
    if not messages:
        seconds: float | None = 0.0
    elif oldest is None or oldest.timestamp_ms is None:
        seconds = None
    else:
        seconds = max(now_s - oldest.timestamp_ms / 1000, 0.0)
    return PartitionLag(group, offsets.topic, offsets.partition, offsets.position, offsets.end, messages, seconds)


class OldestRecordCache:
    """What reads found, per (topic, partition, position), so a stuck group costs one read, not one per
    collection. A found record stays valid while the position does not move (records are only ever
    appended after it); "nothing visible" is valid only while the end offset does not move either."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int, int], tuple[OldestRecord, int]] = {}

    def get(self, offsets: PartitionOffsets) -> OldestRecord | None:
        hit = self._entries.get(_key(offsets))
        if hit is None:
            return None
        record, end_then = hit
        return record if record.visible or end_then == offsets.end else None

    def put(self, offsets: PartitionOffsets, record: OldestRecord) -> None:
        self._entries[_key(offsets)] = (record, offsets.end)

    def retain(self, current: Iterable[PartitionOffsets]) -> None:
        """Forgets positions no group sits at any more; called after each collection."""
        keep = {_key(o) for o in current}
        self._entries = {k: v for k, v in self._entries.items() if k in keep}


def to_read(offsets: Iterable[PartitionOffsets], cache: OldestRecordCache) -> list[PartitionOffsets]:
    """The positions that need a read: behind the end and not answered by the cache, each once."""
    wanted: dict[tuple[str, int, int], PartitionOffsets] = {}
    for o in offsets:
        if o.behind and cache.get(o) is None:
            wanted.setdefault(_key(o), o)
    return list(wanted.values())


def _key(offsets: PartitionOffsets) -> tuple[str, int, int]:
    return offsets.topic, offsets.partition, offsets.position
