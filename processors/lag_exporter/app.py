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

from processors.lag_exporter import broker
from processors.lag_exporter.clients import READER_GROUP_ID, BrokerClients
from processors.lag_exporter.freshness import FailureStreak, collection_age, is_stale
from processors.lag_exporter.rules import GroupLag, OldestRecordCache, PartitionOffsets, partition_lag, to_read
from processors.lag_exporter.settings import LagExporterSettings
from streams.errors import reason_line

log = logging.getLogger("herald.lag_exporter")
RETRY_AFTER_FAILURE_S = 1.0  # a failed collection is tried again soon, not a whole interval later


@dataclass(frozen=True)
class Snapshot:
    """One collection: every group's lag, when it was taken (unix seconds) and how long it took."""

    groups: tuple[GroupLag, ...]
    taken_at: float
    duration_s: float


@dataclass(frozen=True)
class LagLimits:
    """The exporter's limits, from ``LagExporterSettings`` (where their defaults are written): the longest
    broker read, how old a snapshot may get before it is stale, failed collections before new clients."""

    read_timeout_s: float
    stale_after_s: float
    failure_limit: int

    @classmethod
    def of(cls, settings: LagExporterSettings) -> LagLimits:
        return cls(
            read_timeout_s=settings.lag_probe_timeout_s,
            stale_after_s=settings.lag_stale_after_s,
            failure_limit=settings.lag_client_failure_limit,
        )


class LagExporter:
    """Collects lag per group/topic/partition; keeps the latest ``Snapshot`` for the metrics endpoint.

    ``connect`` builds the broker clients; after ``limits.failure_limit`` failed collections in a row they
    are closed and built again (freshness.FailureStreak). Past ``limits.stale_after_s`` without a success
    the snapshot is stale: /readyz fails and the lag series are withdrawn (exposition.py)."""

    def __init__(
        self,
        connect: Callable[[], BrokerClients],
        *,
        group_prefix: str,
        limits: LagLimits,
        topic_prefix: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connect = connect
        self._clients: BrokerClients | None = None
        self._prefix = group_prefix
        self._topic_prefix = topic_prefix
        self._read_timeout_s = limits.read_timeout_s
        self._clock = clock
        self._cache = OldestRecordCache()
        self._known: set[str] = set()  # groups seen since start: still reported after they vanish
        self._streak = FailureStreak(limits.failure_limit)
        self.stale_after_s = limits.stale_after_s
        self.started_at = clock()
        self.snapshot: Snapshot | None = None
        self.failures = 0
        self.replacements = 0
        self.last_loop_at: float | None = None  # monotonic; liveness

    @classmethod
    def from_settings(cls, settings: LagExporterSettings) -> LagExporter:
        timeout_s = settings.lag_probe_timeout_s
        return cls(
            lambda: BrokerClients.from_settings(settings, timeout_s),
            group_prefix=settings.group_prefix,
            topic_prefix=settings.topic_prefix,
            limits=LagLimits.of(settings),
        )

    @property
    def clients(self) -> BrokerClients:
        if self._clients is None:
            self._clients = self._connect()
        return self._clients

    def collection_age_s(self) -> float:
        """Seconds since the last successful collection (since start before the first)."""
        return collection_age(self.snapshot.taken_at if self.snapshot else None, self.started_at, self._clock())

    def stale(self) -> bool:
        return is_stale(self.collection_age_s(), self.stale_after_s)

    def collect(self, groups: Iterable[str] | None = None) -> Snapshot:
        """Reads every group named with the prefix (or just ``groups``) from the broker. Raises
        ``KafkaException`` when the broker does not answer; nothing is half-updated then."""
        started = time.monotonic()
        clients, timeout_s = self.clients, self._read_timeout_s
        clients.serve_callbacks()
        names = sorted(set(groups)) if groups is not None else self._discover()
        infos = clients.describe_groups(names)
        candidates = broker.topic_partitions(clients.admin, self._topic_prefix, timeout_s) if names else []
        committed = {g: broker.committed_offsets(clients.offsets(g), candidates, timeout_s) for g in names}
        offsets = self._offsets(candidates, committed, infos)
        oldest = self._read_oldest([o for per_group in offsets.values() for o in per_group])
        now = self._clock()
        result = tuple(self._group_lag(g, infos[g], offsets[g], oldest, now) for g in names)
        return Snapshot(result, now, time.monotonic() - started)

    def _discover(self) -> list[str]:
        found = broker.list_groups(self.clients.admin, self._prefix, self._read_timeout_s)
        self._known |= {g for g in found if g != READER_GROUP_ID}
        return sorted(self._known)

    def _offsets(self, candidates: list, committed: dict, infos: dict) -> dict[str, list[PartitionOffsets]]:
        """Each group's offsets on every partition of the topics it committed on or is assigned."""
        topics = {g: {t for t, _ in committed[g]} | infos[g].assigned_topics for g in committed}
        wanted = set().union(*topics.values()) if topics else set()
        partitions = [(t, p) for t, p in candidates if t in wanted]
        marks = broker.watermarks(self.clients.admin, partitions, self._read_timeout_s)
        return {
            g: [
                PartitionOffsets(t, p, committed[g].get((t, p), -1), *marks[(t, p)])
                for t, p in partitions
                if t in topics[g] and (t, p) in marks
            ]
            for g in committed
        }

    def _read_oldest(self, offsets: list[PartitionOffsets]) -> dict:
        """The oldest unconsumed record per position, from the cache or one read."""
        wanted = to_read(offsets, self._cache)
        found = broker.read_oldest(self.clients.reader, wanted, self._read_timeout_s)
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
        """One tick of ``run``: a failed collection is logged and counted, and past the failure limit the
        clients are replaced; the previous snapshot stays until it turns stale."""
        try:
            self.snapshot = self.collect()
            self._streak.succeeded()
            return True
        except Exception as exc:
            self.failures += 1
            replace = self._streak.failed()
            log.warning(
                "lag collection failed (%d in a row)%s: %s: %s",
                self._streak.count,
                "; replacing the broker clients" if replace else "",
                type(exc).__name__,
                reason_line(exc),
            )
            if replace:
                self.replace_clients()
            return False

    def replace_clients(self) -> None:
        """Closes the broker clients; the next collection builds new ones."""
        clients, self._clients = self._clients, None
        if clients is not None:
            clients.close()
            self.replacements += 1

    def run(self, interval_s: float, stop: threading.Event) -> None:
        """Collects every ``interval_s`` (a failed collection again after ``RETRY_AFTER_FAILURE_S``) until
        ``stop`` is set, then closes the clients."""
        try:
            while not stop.is_set():
                self.last_loop_at = time.monotonic()
                ok = self.collect_once()
                stop.wait(interval_s if ok else min(interval_s, RETRY_AFTER_FAILURE_S))
        finally:
            self.close()

    def close(self) -> None:
        self.replace_clients()
