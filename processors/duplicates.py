"""Which copies of an event are acted on: the first version only (persister and fan-out).

An event id already stored (by the persister or an earlier fan-out batch) with other content, or taken
by an earlier record of the batch with other content, is a conflicting duplicate. The persister keeps
the stored row (sinks/postgres/activity.py compares inside its write). Fanning one out would
notify version 2's recipients under version 1's notification ids (uuid5(event_id, user)), push its
text, and mark version 1 as fanned out. So the first version's effects stay, and the later version is
dead-lettered (docs/decisions/0121-conflicting-duplicates.md). A copy with the same content is the same
event (a redelivery, a replay) and goes on as before: bell rows are idempotent by key.
"""

from __future__ import annotations

from typing import Callable, Hashable, Mapping, TypeVar

from streams.records import DeadLetter, Record

CONFLICTING_DUPLICATE = "ConflictingDuplicate"

K = TypeVar("K", bound=Hashable)  # an event's key (the fan-out's: its event id)


def conflict_reason(event_id: object) -> str:
    """Ids only: the content that differs may be PHI."""
    return f"conflicting duplicate: event {event_id} is already stored with other content; the first version is kept"


def first_versions(
    records: list[Record], stored: Mapping[K, object], key: Callable[[Record], K], content: Callable[[Record], object]
) -> tuple[list[Record], list[DeadLetter]]:
    """``records`` without the conflicting duplicates, and those as dead letters. ``stored`` is the content
    of the stored version by key, for the keys that have one."""
    first: dict[K, object] = {}
    kept: list[Record] = []
    dead: list[DeadLetter] = []
    for record in records:
        k, mine = key(record), content(record)
        reference = stored[k] if k in stored else first.setdefault(k, mine)
        if mine == reference:
            kept.append(record)
        else:
            dead.append(DeadLetter(conflict_reason(k), CONFLICTING_DUPLICATE, record.message))
    return kept, dead
