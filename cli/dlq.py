"""``herald dlq list`` and ``herald dlq replay``: read a dead-letter topic; put records back, exactly once.

Replay puts each selected DLQ record back on the topic it came from (header ``herald.source.topic``)
with its original key, value and headers, minus the failure headers, plus ``herald.replay.of`` =
``<dlq topic>/<partition>/<offset>``. Exactly once, for both DLQs:

1. one transactional producer per DLQ (``transactional.id`` = ``<group prefix>dlq-replay-<dlq topic>``):
   ``init_transactions`` fences any other replay of the same DLQ and aborts what it left open;
2. only then the markers are read (``read_committed``) from the compacted ``dlq-replays.v1`` topic;
3. in one transaction: the replayed records *and* one marker per replayed DLQ record (key = its
   coordinates). Both land or neither does, so a record is never replayed twice and never lost,
   whatever crashes or runs concurrently, and a later replay skips it.

The replayed record is addressed to the consumer group that dead-lettered it (``herald.replay.for`` =
the DLQ record's ``herald.consumer.group``): the other groups reading the same topic skip it
(streams/replays.py), so a record the persister rejected is processed again by the persister alone and
one the fan-out rejected by the fan-out alone. A record rejected by both stages has one dead letter per
stage, and each replays to its own stage. A dead letter without the group header (written before it
existed, or by the reconciler, whose set-aside events are everyone's) replays to every group.

Markers (not a committed replay-group offset) because replay is selective: ``--offset`` or
``--code`` may replay record 7 but not 3; an offset can only say "everything before here".
The processors downstream are idempotent anyway; the markers make the replay itself exactly-once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from confluent_kafka import Consumer, TopicPartition

from streams.clients import build_producer
from streams.deadletter import H_GROUP, H_REPLAY_FOR, H_REPLAY_OF, H_TOPIC, headers_dict
from streams.settings import KafkaSettings
from streams.topics import DLQ_REPLAYS

_DROPPED_PREFIXES = ("herald.error.", "herald.source.", "herald.push.")
_DROPPED = frozenset({H_REPLAY_OF, H_REPLAY_FOR, H_GROUP})


@dataclass(frozen=True)
class DlqEntry:
    partition: int
    offset: int
    key: bytes | None
    size: int
    headers: dict[str, str]
    value: bytes | None = None
    raw_headers: list = field(default_factory=list)


@dataclass(frozen=True)
class ReplayReport:
    replayed: list[DlqEntry]
    already_replayed: int
    skipped: list[tuple[DlqEntry, str]]  # not replayable, with why


def read_dlq(settings: KafkaSettings, topic: str, limit: int = 1000) -> list[DlqEntry]:
    """Every record of ``topic`` up to its end (at most ``limit``), oldest first; commits nothing."""
    return [_entry(m) for m in _read_topic(settings, topic, limit)]


def replayed_coordinates(settings: KafkaSettings) -> set[str]:
    """``<dlq topic>/<partition>/<offset>`` of every record replayed so far (committed markers)."""
    return {m.key().decode() for m in _read_topic(settings, settings.topic(DLQ_REPLAYS), None) if m.key()}


def replay_dlq(
    settings: KafkaSettings, topic: str, select: Callable[[DlqEntry], bool] = lambda e: True, *, dry_run: bool = False
) -> ReplayReport:
    """Replays the selected, not yet replayed records of the DLQ ``topic`` (full name); see module doc.
    Raises KafkaException if the transaction fails; then nothing of this run was replayed."""
    if not dry_run:
        _ensure_marker_topic(settings)
    producer = (
        None if dry_run else build_producer(settings, transactional_id=f"{settings.group_prefix}dlq-replay-{topic}")
    )
    done = replayed_coordinates(settings)  # after init_transactions: no other replay is in flight
    entries = [e for e in read_dlq(settings, topic, limit=10_000_000) if select(e)]
    fresh = [e for e in entries if coordinates(topic, e) not in done]
    skipped = [(e, "no herald.source.topic header") for e in fresh if not e.headers.get(H_TOPIC)]
    chosen = [e for e in fresh if e.headers.get(H_TOPIC)]
    if producer is not None and chosen:
        _replay_in_transaction(producer, settings, topic, chosen)
    return ReplayReport(chosen, len(entries) - len(fresh), skipped)


def _ensure_marker_topic(settings: KafkaSettings) -> None:
    from streams.admin import create_topics
    from streams.clients import build_admin
    from streams.topics import topic_specs

    create_topics(build_admin(settings), settings, [s for s in topic_specs() if s.base == DLQ_REPLAYS])


def coordinates(topic: str, entry: DlqEntry) -> str:
    return f"{topic}/{entry.partition}/{entry.offset}"


def _replay_in_transaction(producer, settings: KafkaSettings, topic: str, chosen: list[DlqEntry]) -> None:
    errors: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err:
            errors.append(str(err))

    marker_topic = settings.topic(DLQ_REPLAYS)
    now = datetime.now(timezone.utc).isoformat()
    producer.begin_transaction()
    try:
        for entry in chosen:
            where = coordinates(topic, entry)
            producer.produce(
                entry.headers[H_TOPIC],
                entry.value,
                entry.key,
                headers=replay_headers(entry, where),
                on_delivery=on_delivery,
            )
            producer.produce(
                marker_topic,
                json.dumps({"replayed_at": now, "to": entry.headers[H_TOPIC]}).encode(),
                where.encode(),
                on_delivery=on_delivery,
            )
            producer.poll(0)
        producer.flush(60)
        if errors:
            raise RuntimeError(f"{len(errors)} replayed records failed: {errors[0]}")
        producer.commit_transaction(60)
    except BaseException:
        producer.abort_transaction(60)
        raise


def replay_headers(entry: DlqEntry, where: str) -> list[tuple[str, bytes]]:
    """The original headers without the failure's, plus where the record came from and, when the dead
    letter names the group that rejected it, that group as the record's only addressee."""
    headers = [(k, v) for k, v in entry.raw_headers if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED]
    headers.append((H_REPLAY_OF, where.encode()))
    if entry.headers.get(H_GROUP):
        headers.append((H_REPLAY_FOR, entry.headers[H_GROUP].encode()))
    return headers


def _entry(msg) -> DlqEntry:
    raw = list(msg.headers() or [])
    return DlqEntry(
        msg.partition(), msg.offset(), msg.key(), len(msg.value() or b""), headers_dict(raw), msg.value(), raw
    )


def _read_topic(settings: KafkaSettings, topic: str, limit: int | None) -> list:
    """The committed records of ``topic`` from its start to its current end, without joining a group."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.group_prefix}dlq-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
        todo = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in todo])
        out: list = []
        while todo and (limit is None or len(out) < limit):
            batch = consumer.consume(500, 1.0)
            for msg in batch:
                if msg.error():
                    continue
                out.append(msg)
                offset = msg.offset()  # None only for a message that carries an error, skipped above
                if offset is not None and offset + 1 >= ends[msg.partition()][1]:
                    todo.discard(msg.partition())
            if not batch:
                todo = {p for p in todo if _position(consumer, topic, p) < ends[p][1]}  # a trailing commit marker
        return out if limit is None else out[:limit]
    finally:
        consumer.close()


def _position(consumer, topic: str, partition: int) -> int:
    (tp,) = consumer.position([TopicPartition(topic, partition)])
    return tp.offset if tp.offset >= 0 else 0


def selector(
    *, offsets: list[int] | None = None, partition: int | None = None, code: str | None = None, group: str | None = None
) -> Callable[[DlqEntry], bool]:
    """The ``herald dlq replay`` filters: offsets, partition, FCM error code or error type, and the
    consumer group that dead-lettered the record (its full name)."""

    def select(entry: DlqEntry) -> bool:
        if offsets and entry.offset not in offsets:
            return False
        if partition is not None and entry.partition != partition:
            return False
        if group is not None and entry.headers.get(H_GROUP) != group:
            return False
        kinds = {entry.headers.get("herald.push.error-code"), entry.headers.get("herald.error.type")}
        return code is None or code in kinds

    return select


def dlq_table(topic: str, entries: list[DlqEntry], replayed: set[str], title: str | None = None):
    """A rich table of DLQ records: coordinates, error, FCM code and attempts, reason, source, replayed."""
    from rich.table import Table

    table = Table(
        "partition",
        "offset",
        "group",
        "error",
        "code",
        "attempts",
        "reason",
        "source",
        "first failed",
        "replayed",
        title=title or topic,
    )
    for e in entries:
        h = e.headers
        source = f"{h.get('herald.source.topic', '')}[{h.get('herald.source.partition', '')}]@{h.get('herald.source.offset', '')}"
        table.add_row(
            str(e.partition),
            str(e.offset),
            h.get(H_GROUP, ""),
            h.get("herald.error.type", ""),
            h.get("herald.push.error-code", ""),
            h.get("herald.push.attempts", ""),
            h.get("herald.error.reason", ""),
            source,
            h.get("herald.first-failed-at", ""),
            "yes" if coordinates(topic, e) in replayed else "",
        )
    return table
