"""``herald rebuild feed``: the feed is a projection of the activity topic, so it can be built again.

The rebuild reads the activity topic from the offsets of ``since`` (``offsets_for_times``, per partition)
to the end offsets taken when it starts (the last stable offsets: a replay's transaction still open is
not waited for), decodes each record exactly as the persister does (the same serde, ``row_from_avro``,
and the same skipping of replays addressed to another group), and writes the rows in batches into a
table shaped like activity_events, idempotently, with the persister's conflict rule (the first version
of an event stays). Run it again, or after a crash, and it adds only what is missing.

The window is by record timestamp, ``since`` ≤ t < ``until``. ``offsets_for_times`` gives the first
offset at or after a time; records after it whose timestamps go back (producers' clocks) are filtered
out, so the start is exact. The read stops at ``until``'s offset, so a record stamped before ``until``
but stored after the first one stamped at or after it (clock skew, milliseconds) is left out.

Two columns the persister leaves to their defaults are set from the log: ``received_at`` is the
record's timestamp (the rebuild's own clock would put a year of events at one instant), and a
notifying event's ``notification_sent_at`` is that time too: a rebuild sends nothing, and a reconciler
reading the rebuilt table must not fan a year of history out again
(docs/decisions/0241-rebuilt-rows-take-their-times-from-the-log.md).

Undecodable records are counted by kind (the first words of the reason, never a value: reasons can
quote a field) and skipped; the persister set them aside in the DLQ already.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, cast

from confluent_kafka import Consumer, IsolationLevel, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from sqlalchemy import Engine, text

from processors.registry import PROCESSES
from sinks.postgres.activity import COLUMNS, row_content
from sinks.postgres.activity_rows import row_from_avro
from sinks.postgres.bulk import copy_new_rows_checked
from sinks.postgres.engine import raw_connection
from streams.clients import build_admin
from streams.decoder import Decoder
from streams.records import DeadLetter, Message, Record, Skipped
from streams.replays import for_group
from streams.serde import AvroSerde
from streams.settings import KafkaSettings
from streams.topics import ACTIVITY

LIVE_TABLE = "activity_events"
DEFAULT_TABLE = "activity_events_rebuild"
REBUILD_COLUMNS = (*COLUMNS, "received_at", "notification_sent_at")
TIMEOUT_S = 10.0
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A dead-letter reason up to its first value: a quote, a digit, a parenthesis or a colon.
_REASON_KIND = re.compile(r"^[^'\"0-9(:;]*")


class RebuildRefused(Exception):
    """The rebuild would write where it must not (the live table, unasked) or was asked nonsense."""


@dataclass
class RebuildReport:
    """What one rebuild read and wrote."""

    table: str
    read: int = 0  # records read between the start and end offsets
    outside_window: int = 0  # read, but stamped before ``since`` or at/after ``until``
    decoded: int = 0
    written: int = 0  # rows added to the table
    already_stored: int = 0  # decoded events whose row the table already held (or held earlier in the run)
    conflicting: int = 0  # another version of a stored event id: not written, the first one stays
    other_groups: int = 0  # replays addressed to another consumer group, skipped as the persister skips them
    skipped: Counter[str] = field(default_factory=Counter)  # undecodable, by kind of reason

    @property
    def undecodable(self) -> int:
        return sum(self.skipped.values())


def reason_kind(reason: str) -> str:
    """The words of a dead-letter reason before its first value (``unknown framing``, ``corrupt Avro
    body``, ``organization_id is required``): what can be printed of it without printing the record."""
    kind = _REASON_KIND.match(reason)
    return (kind.group(0) if kind else "").strip().removesuffix(" is").strip() or "other"


def utc_millis(moment: datetime) -> int:
    """Kafka's timestamp of a moment; a naive datetime is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def check_target(table: str, *, into_live: bool) -> None:
    """Refuses a malformed table name, and the live table unless ``into_live``."""
    if not _NAME.match(table):
        raise RebuildRefused(f"table name {table!r}: lower-case letters, digits and _ only")
    if table == LIVE_TABLE and not into_live:
        raise RebuildRefused(f"{LIVE_TABLE} is the live feed; pass --into-live to add the missing events to it")


def prepare_table(engine: Engine, table: str, *, replace: bool) -> None:
    """Creates ``table`` shaped like activity_events (columns, defaults, constraints, indexes; not its
    partitions or triggers: the rebuilt table notifies no live stream) unless it exists, to resume an
    interrupted rebuild; ``replace`` drops it first. The live table is left as it is."""
    if table == LIVE_TABLE:
        return
    with engine.begin() as conn:
        if replace:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {table} (LIKE {LIVE_TABLE} "
                "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
            )
        )


def rebuild_row(record: Record) -> tuple:
    """The persister's row for the record, with ``received_at`` and ``notification_sent_at`` from the
    record's timestamp (see the module doc)."""
    row = record.value
    at = datetime.fromtimestamp(record.message.timestamp()[1] / 1000, tz=timezone.utc)
    return (*row, at, at if row[13] else None)  # row[13]: notify


def write_batch(engine: Engine, table: str, rows: list[tuple], report: RebuildReport) -> None:
    """One transaction: the rows whose event is not in ``table`` yet (the persister's rule and code);
    counts what was written, already there, and conflicting."""
    if not rows:
        return
    with engine.begin() as conn, raw_connection(conn).cursor() as cursor:
        ids = list({row[0] for row in rows})
        cursor.execute(f"SELECT count(*) FROM {table} WHERE event_id = ANY(%s)", (ids,))
        stored = cursor.fetchone()[0]
        # DO NOTHING without a target: the key is whatever LIKE copied from activity_events.
        differing = copy_new_rows_checked(
            cursor, table, REBUILD_COLUMNS, rows, key="event_id", conflict="DO NOTHING", content=row_content
        )
    report.written += len(ids) - stored
    report.conflicting += len(differing)
    report.already_stored += len(rows) - len(differing) - (len(ids) - stored)


def read_range(
    admin: AdminClient, consumer: Consumer, topic: str, since_ms: int, until_ms: int | None
) -> tuple[dict[int, int], dict[int, int]]:
    """Start and end offset of each partition: from ``since``'s offset to ``until``'s, or to the last
    stable offset now (whichever is first). A partition with nothing to read has start == end."""
    meta = consumer.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
    if meta.error is not None:
        raise KafkaException(meta.error)
    partitions = sorted(meta.partitions)
    latest = OffsetSpec.latest()
    answered = admin.list_offsets(
        {TopicPartition(topic, p): latest for p in partitions},
        isolation_level=IsolationLevel.READ_COMMITTED,
        request_timeout=TIMEOUT_S,
    )
    end = {tp.partition: f.result(2 * TIMEOUT_S).offset for tp, f in answered.items()}

    def offsets_at(ms: int) -> dict[int, int]:
        found = consumer.offsets_for_times([TopicPartition(topic, p, ms) for p in partitions], timeout=TIMEOUT_S)
        return {tp.partition: (tp.offset if tp.offset >= 0 else end[tp.partition]) for tp in found}

    start = offsets_at(since_ms)
    if until_ms is not None:
        end = {p: min(end[p], o) for p, o in offsets_at(until_ms).items()}
    return {p: min(start[p], end[p]) for p in partitions}, end


def rebuild_feed(
    settings: KafkaSettings,
    engine: Engine,
    serde: AvroSerde,
    *,
    since: datetime,
    until: datetime | None = None,
    table: str = DEFAULT_TABLE,
    into_live: bool = False,
    replace: bool = False,
    batch_size: int = 20_000,
    on_batch: Callable[[RebuildReport], None] = lambda report: None,
) -> RebuildReport:
    """Rebuilds the feed's rows of records stamped in [since, until) into ``table`` (module doc)."""
    check_target(table, into_live=into_live)
    since_ms, until_ms = utc_millis(since), (utc_millis(until) if until else None)
    if until_ms is not None and until_ms <= since_ms:
        raise RebuildRefused("--until must come after --since")
    prepare_table(engine, table, replace=replace)
    report = RebuildReport(table)
    group = settings.group(PROCESSES["persister"].consumer_group)
    decode = for_group(Decoder(serde, row_from_avro), group)
    topic = settings.topic(ACTIVITY)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.group_prefix}feed-rebuild",  # never joins nor commits: assign() only
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            # A start offset retention deleted meanwhile: read from the oldest record left, not the newest.
            "auto.offset.reset": "earliest",
        }
    )
    try:
        start, end = read_range(build_admin(settings), consumer, topic, since_ms, until_ms)
        todo = {p for p in start if start[p] < end[p]}
        consumer.assign([TopicPartition(topic, p, start[p]) for p in sorted(todo)])
        rows: list[tuple] = []
        while todo:
            # confluent_kafka's stubs type offset() and friends Optional; a consumed record has them all
            polled = cast(list[Message], consumer.consume(num_messages=batch_size, timeout=1.0))
            for msg in polled:
                if msg.error() is not None:
                    raise KafkaException(msg.error())
                if msg.offset() >= end[msg.partition()]:
                    continue
                report.read += 1
                row = _decoded(decode(msg), report, since_ms, until_ms)
                if row is not None:
                    rows.append(row)
            if len(rows) >= batch_size:
                write_batch(engine, table, rows, report)
                rows = []
                on_batch(report)
            positions = consumer.position([TopicPartition(topic, p) for p in todo])
            done = {tp.partition for tp in positions if tp.offset >= end[tp.partition]}
            if done:
                consumer.incremental_unassign([TopicPartition(topic, p) for p in done])
                todo -= done
        write_batch(engine, table, rows, report)
        on_batch(report)
    finally:
        consumer.close()
    return report


def _decoded(
    decoded: Record | DeadLetter | Skipped, report: RebuildReport, since_ms: int, until_ms: int | None
) -> tuple | None:
    message: Message = decoded.message
    stamp = message.timestamp()[1]
    if stamp < since_ms or (until_ms is not None and stamp >= until_ms):
        report.outside_window += 1
        return None
    if isinstance(decoded, Skipped):
        report.other_groups += 1
        return None
    if isinstance(decoded, DeadLetter):
        report.skipped[f"{decoded.error_type}: {reason_kind(decoded.reason)}"] += 1
        return None
    report.decoded += 1
    return rebuild_row(decoded)
