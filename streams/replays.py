"""Replayed records reach the stage that rejected them, and only it.

The persister and the fan-out both read the activity topic and each dead-letters what it rejects, with
its consumer group in ``herald.consumer.group`` (streams/deadletter.py). ``herald dlq replay`` puts a
record back on its source topic addressed to that group (``herald.replay.for``): every other group
reading the topic skips it, so a record the persister rejected is not stored twice by the fan-out's
event upsert, and one the fan-out rejected is not a second persister write; the skip is committed with
the batch and counted in ``herald_replays_skipped_total``. Records without the header (all new traffic,
and replays of dead letters older than the header) go to every group, as before.
(docs/decisions/0120-dead-letters-per-stage.md)
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import Counter

from streams.deadletter import H_REPLAY_FOR
from streams.records import DeadLetter, Message, Record, Skipped

REPLAYS_SKIPPED = Counter(
    "herald_replays_skipped_total",
    "Replayed records addressed to another consumer group, skipped and committed",
    ["group", "topic"],
)

Decode = Callable[[Message], "Record | DeadLetter | Skipped"]


def addressee(msg: Message) -> bytes | None:
    """The group a replayed record is for, or None (not a replay, or a replay for every group)."""
    headers = msg.headers()
    if not headers:  # nearly every record: no header list at all
        return None
    for key, value in headers:
        if key == H_REPLAY_FOR:
            return value
    return None


def for_group(decode: Callable[[Message], Record | DeadLetter], group: str) -> Decode:
    """``decode``, except that a replay addressed to another group is ``Skipped`` (undecoded)."""
    mine = group.encode()

    def decode_for_group(msg: Message) -> Record | DeadLetter | Skipped:
        to = addressee(msg)
        if to is not None and to != mine:
            REPLAYS_SKIPPED.labels(group, msg.topic()).inc()
            return Skipped(msg)
        return decode(msg)

    return decode_for_group
