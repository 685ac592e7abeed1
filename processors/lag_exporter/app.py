"""The lag exporter: every Herald consumer group's lag, in messages and seconds, from the broker alone.

A processor's own lag gauges die with it; this process keeps reporting a group whose members are
dead or gone (state Empty, or Dead once the broker forgets it), which is when lag matters most.
``herald run lag-exporter`` runs ``LagExporter.run``; ``herald lag`` calls ``collect`` once.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from confluent_kafka.admin import AdminClient

from processors.lag_exporter import broker
from processors.lag_exporter.rules import GroupLag, OldestRecordCache, PartitionOffsets, partition_lag, to_read
from streams.clients import build_admin, build_consumer
from streams.errors import reason_line
from streams.settings import KafkaSettings

log = logging.getLogger("herald.lag_exporter")
READER_GROUP_ID = "herald.lag-exporter.reader"  # never joins nor commits, so it never shows as a group


@dataclass(frozen=True)
class Snapshot:
    """One collection: every group's lag, when it was taken (unix seconds) and how long it took."""

    groups: tuple[GroupLag, ...]
    taken_at: float
    duration_s: float


def build_reader(settings: KafkaSettings):
    """The group-less consumer that reads the record at a group's position (assign + seek only)."""
    return build_consumer(settings, "lag-exporter-reader", **{
        "group.id": READER_GROUP_ID, "enable.partition.eof": True, "fetch.wait.max.ms": 50,
        "max.partition.fetch.bytes": 65536, "queued.max.messages.kbytes": 1024})


class LagExporter:
    """Collects lag per group/topic/partition; keeps the latest ``Snapshot`` for the metrics endpoint."""

    def __init__(self, admin: AdminClient, reader, *, group_prefix: str, read_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._admin = admin
        self._reader = reader
        self._prefix = group_prefix
        self._read_timeout_s = read_timeout_s
        self._clock = clock
        self._cache = OldestRecordCache()
        self._known: set[str] = set()  # groups seen since start: still reported after they vanish
        self.snapshot: Snapshot | None = None
        self.failures = 0
        self.last_loop_at: float | None = None  # monotonic; liveness

    @classmethod
    def from_settings(cls, settings) -> LagExporter:
        return cls(build_admin(settings), build_reader(settings), group_prefix=settings.group_prefix,
                   read_timeout_s=getattr(settings, "lag_probe_timeout_s", 5.0))

    def collect(self, groups: Iterable[str] | None = None) -> Snapshot:
        """Reads every group named with the prefix (or just ``groups``) from the broker. Raises
        ``KafkaException`` when the broker does not answer; nothing is half-updated then."""
        started = time.monotonic()
        names = sorted(set(groups)) if groups is not None else self._discover()
        infos = broker.describe_groups(self._admin, names)
        committed = {g: broker.committed_offsets(self._admin, g) for g in names}
        offsets = self._offsets(committed, infos)
        oldest = self._read_oldest([o for per_group in offsets.values() for o in per_group])
        now = self._clock()
        result = tuple(self._group_lag(g, infos[g], offsets[g], oldest, now) for g in names)
        return Snapshot(result, now, time.monotonic() - started)

    def _discover(self) -> list[str]:
        self._known |= {g for g in broker.list_groups(self._admin, self._prefix) if g != READER_GROUP_ID}
        return sorted(self._known)

    def _offsets(self, committed: dict, infos: dict) -> dict[str, list[PartitionOffsets]]:
        """Each group's offsets on every partition of the topics it committed on or is assigned."""
        topics = {g: {t for t, _ in committed[g]} | infos[g].assigned_topics for g in committed}
        partitions = broker.partitions_of(self._admin, set().union(*topics.values()))
        marks = broker.watermarks(self._admin, partitions)
        return {g: [PartitionOffsets(t, p, committed[g].get((t, p), -1), *marks[(t, p)])
                    for t, p in partitions if t in topics[g] and (t, p) in marks] for g in committed}

    def _read_oldest(self, offsets: list[PartitionOffsets]) -> dict:
        """The oldest unconsumed record per position, from the cache or one read."""
        wanted = to_read(offsets, self._cache)
        found = broker.read_oldest(self._reader, wanted, self._read_timeout_s)
        for o in wanted:
            if (o.topic, o.partition, o.position) in found:
                self._cache.put(o, found[(o.topic, o.partition, o.position)])
        self._cache.retain(offsets)
        return {(o.topic, o.partition, o.position): self._cache.get(o) for o in offsets}

    @staticmethod
    def _group_lag(group: str, info, offsets: list[PartitionOffsets], oldest: dict, now: float) -> GroupLag:
        parts = tuple(partition_lag(group, o, oldest.get((o.topic, o.partition, o.position)), now) for o in offsets)
        return GroupLag(group, info.state, info.members, parts)

    def collect_once(self) -> bool:
        """One tick of ``run``: a failed collection is logged and counted; the previous snapshot stays
        (its age is exported, so stale numbers are visible)."""
        try:
            self.snapshot = self.collect()
            return True
        except Exception as exc:
            self.failures += 1
            log.warning("lag collection failed: %s: %s", type(exc).__name__, reason_line(exc))
            return False

    def run(self, interval_s: float, stop: threading.Event) -> None:
        """Collects every ``interval_s`` until ``stop`` is set, then closes the reader."""
        try:
            while not stop.is_set():
                self.last_loop_at = time.monotonic()
                self.collect_once()
                stop.wait(interval_s)
        finally:
            self._reader.close()

    def close(self) -> None:
        self._reader.close()
