"""What retention does to each partition of a table (pure): nothing, drop it whole, drop it but re-attach
the rows of the organizations that keep the month longer, or delete the rows of the organizations that
keep it shorter (docs/decisions/0255-per-organization-retention.md).

An organization's rows of a month expire, like a table's, once every row the partition can hold is
older than its retention: rows live at least their organization's retention and at most a month longer.
The cheap operation is chosen by who expires: when the table's own retention has passed, the month
goes whole and only the few organizations that keep it longer are copied back; while it has not, only
the few organizations that keep it shorter have their rows deleted, from a month no longer written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sinks.postgres.partitions import Partition, expired


@dataclass(frozen=True, slots=True)
class Fate:
    """``drop``: detach, archive and drop ``partition``; re-attach the rows of ``keep`` (organizations whose
    retention has not passed) as the month's new partition. Not ``drop``: delete the rows of ``purge``."""

    partition: Partition
    drop: bool
    keep: frozenset[str] = frozenset()
    purge: frozenset[str] = frozenset()


def fate(partition: Partition, *, now: datetime, keep_days: int | None, organizations: dict[str, int]) -> Fate | None:
    """What retention does to ``partition`` (None: nothing). ``keep_days`` is the table's retention (None:
    kept for ever), ``organizations`` those whose retention differs from it."""
    if partition.default or partition.upper is None:
        return None
    if keep_days is not None and expired(partition, now=now, days=keep_days):
        keep = frozenset(o for o, days in organizations.items() if not expired(partition, now=now, days=days))
        return Fate(partition, drop=True, keep=keep)
    purge = frozenset(o for o, days in organizations.items() if expired(partition, now=now, days=days))
    return Fate(partition, drop=False, purge=purge) if purge else None


def fates(
    existing: list[Partition], *, now: datetime, keep_days: int | None, organizations: dict[str, int]
) -> list[Fate]:
    """``fate`` of every partition that has one, oldest first."""
    found = (fate(p, now=now, keep_days=keep_days, organizations=organizations) for p in existing)
    return [f for f in found if f is not None]
