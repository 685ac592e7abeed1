"""Turning a DeadLetter into the record that goes to a dead-letter topic."""

from __future__ import annotations

from datetime import datetime, timezone

from streams.records import DeadLetter, Message, Output

H_ERROR_TYPE = "herald.error.type"
H_REASON = "herald.error.reason"
H_TOPIC = "herald.source.topic"
H_PARTITION = "herald.source.partition"
H_OFFSET = "herald.source.offset"
H_FIRST_FAILED = "herald.first-failed-at"
H_REPLAY_OF = "herald.replay.of"  # set by `herald dlq replay`: "<dlq topic>/<partition>/<offset>" it came from
# The consumer group whose stage rejected the record. Several groups read one topic (the persister and
# the fan-out both read the activity topic) and each dead-letters what it rejects, so the group says
# which stage a dead letter is for; `herald dlq replay` addresses the replayed record to that group
# alone (streams/replays.py; docs/decisions/0120-dead-letters-per-stage.md).
H_GROUP = "herald.consumer.group"
H_REPLAY_FOR = "herald.replay.for"  # set by `herald dlq replay` from H_GROUP: the only group that processes the record
REASON_MAX = 1000


def to_output(dead: DeadLetter, dlq_topic: str, now: datetime | None = None, group: str = "") -> Output:
    """The original key and bytes, with the reason, original coordinates and rejecting ``group`` as headers.

    The original headers are kept, plus ``dead.headers`` (which replace same-named originals); a record
    that was dead-lettered before keeps its first failure time, so a replayed-and-failed-again record
    still says when it first failed. Else the first failure is ``dead.headers``' own, else now. A
    replayed record's addressee (``herald.replay.for``) is dropped: the new group header says who failed.
    """
    msg = dead.message
    extra = [(k, v) for k, v in dead.headers if k != H_FIRST_FAILED]
    replaced = {H_FIRST_FAILED, H_GROUP, H_REPLAY_FOR, *(k for k, _ in extra)}
    original = [(k, v) for k, v in (msg.headers() or []) if not k.startswith("herald.error.") and k not in replaced]
    first = (
        _header(msg, H_FIRST_FAILED)
        or dict(dead.headers).get(H_FIRST_FAILED)
        or (now or datetime.now(timezone.utc)).isoformat().encode()
    )
    ours = [
        (H_ERROR_TYPE, dead.error_type.encode()),
        (H_REASON, dead.reason[:REASON_MAX].encode()),
        (H_TOPIC, msg.topic().encode()),
        (H_PARTITION, str(msg.partition()).encode()),
        (H_OFFSET, str(msg.offset()).encode()),
        (H_FIRST_FAILED, first),
    ]
    if group:
        ours.append((H_GROUP, group.encode()))
    return Output(dlq_topic, msg.key(), msg.value(), original + ours + extra)


def _header(msg: Message, name: str) -> bytes | None:
    for key, value in msg.headers() or []:
        if key == name:
            return value
    return None


def headers_dict(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """Headers as text, for display (``herald dlq list``) and tests."""
    return {k: (v or b"").decode(errors="replace") for k, v in headers or []}
