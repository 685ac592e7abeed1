"""Monthly partitions of the time-partitioned tables: which should exist (pure), and creating them.

``plan`` answers, from the partitions a table has, the time and the settings, which months to create
(this month and ``ahead`` more) and which partitions lie wholly before the retention cutoff (to detach,
archive and drop: ``sinks.postgres.retention``). ``maintain`` reads the catalogue, creates what the plan
asks for and reports what it did; ``herald partitions maintain`` runs it once, ``herald run lifecycle``
every hour. Our own code rather than pg_partman: it needs no extension (so no superuser) and no
background worker, and the whole job is these two lists (docs/decisions/0232-partition-maintenance-command.md).

DDL runs under a short ``lock_timeout`` and is retried: creating a partition locks the parent briefly,
and a wait behind a long transaction would queue every writer behind it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

# parent table -> partition key (the event's occurred_at: decision 0230)
PARTITIONED: dict[str, str] = {
    "activity_events": "occurred_at",
    "user_notifications": "occurred_at",
    "push_deliveries": "occurred_at",
}
LOCK_TIMEOUT = "2s"
ATTEMPTS = 20
# the session advisory lock one upkeep holds at a time (processor and commands): "HRLC", key 0
UPKEEP_LOCK = (0x48_52_4C_43, 0)
_LOCK_ARGS = {"c": UPKEEP_LOCK[0], "k": UPKEEP_LOCK[1]}


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition of ``table``: rows with ``lower <= key < upper``; None is MINVALUE / MAXVALUE.
    A default partition has ``default`` set and no bounds."""

    table: str
    name: str
    lower: datetime | None
    upper: datetime | None
    default: bool = False

    def overlaps(self, lower: datetime, upper: datetime) -> bool:
        if self.default:
            return False
        return (self.lower is None or self.lower < upper) and (self.upper is None or lower < self.upper)


@dataclass
class Plan:
    create: list[Partition] = field(default_factory=list)
    drop: list[Partition] = field(default_factory=list)


def month_start(at: datetime) -> datetime:
    """The first instant (UTC) of the month ``at`` falls in."""
    at = at.astimezone(timezone.utc)
    return datetime(at.year, at.month, 1, tzinfo=timezone.utc)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return month.replace(year=index // 12, month=index % 12 + 1)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month:%Y%m}"


def plan(table: str, existing: list[Partition], *, now: datetime, ahead: int, keep_days: int | None) -> Plan:
    """Months from this one to ``ahead`` months on that no partition covers yet; and, when ``keep_days``
    is set, every bounded partition whose rows are all older than ``now - keep_days`` (the default
    partition is never dropped: it holds rows no month covers)."""
    result = Plan()
    first = month_start(now)
    for n in range(ahead + 1):
        lower, upper = add_months(first, n), add_months(first, n + 1)
        if not any(p.overlaps(lower, upper) for p in existing):
            result.create.append(Partition(table, partition_name(table, lower), lower, upper))
    if keep_days is not None:
        result.drop = [p for p in existing if not p.default and expired(p, now=now, days=keep_days)]
    return result


def expired(partition: Partition, *, now: datetime, days: int) -> bool:
    """Every row ``partition`` can hold is older than ``days`` (never so for the default partition or one
    bounded by MAXVALUE)."""
    return not partition.default and partition.upper is not None and partition.upper <= now - timedelta(days=days)


def months_ready(existing: list[Partition], *, now: datetime) -> int:
    """How many months after this one have their partition, counted until the first missing one; -1 when
    this month has none (its rows go to the default partition)."""

    def covered(lower: datetime) -> bool:
        upper = add_months(lower, 1)
        return any(
            not p.default and (p.lower is None or p.lower <= lower) and (p.upper is None or upper <= p.upper)
            for p in existing
        )

    month, ready = month_start(now), -1
    while covered(month) and ready < 120:  # a MAXVALUE bound covers every month: stop counting at ten years
        ready += 1
        month = add_months(month, 1)
    return ready


@contextmanager
def upkeep_lock(engine: Engine, *, wait: bool) -> Iterator[bool]:
    """Holds the upkeep's session advisory lock while the block runs, so two upkeeps (a second replica of
    the lifecycle processor, a command run by hand) never detach or delete at once. Yields whether it is
    held: without ``wait``, False at once when another holds it."""
    with engine.connect() as conn:
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:c, :k)"), _LOCK_ARGS)
            held = True
        else:
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:c, :k)"), _LOCK_ARGS).scalar())
        conn.commit()  # a session lock outlives the transaction; the connection is not left idle in one
        try:
            yield held
        finally:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), _LOCK_ARGS)
                conn.commit()


_BOUND = re.compile(r"FOR VALUES FROM \((?P<lower>[^)]*)\) TO \((?P<upper>[^)]*)\)")


def parse_bound(table: str, name: str, bound: str) -> Partition:
    """A partition from ``pg_get_expr(relpartbound)`` read with TimeZone UTC."""
    if bound == "DEFAULT":
        return Partition(table, name, None, None, default=True)
    match = _BOUND.fullmatch(bound)
    if match is None:
        raise ValueError(f"{name}: not a range partition bound: {bound}")

    def value(literal: str) -> datetime | None:
        if literal in ("MINVALUE", "MAXVALUE"):
            return None
        return datetime.fromisoformat(literal.strip("'")).astimezone(timezone.utc)

    return Partition(table, name, value(match["lower"]), value(match["upper"]))


def existing_partitions(conn: Connection, table: str) -> list[Partition]:
    """The partitions attached to ``table``, oldest first (default last)."""
    conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))  # bounds print in the session's time zone
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    ).all()
    found = [parse_bound(table, name, bound) for name, bound in rows]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(found, key=lambda p: (p.default, p.lower or epoch))


@dataclass
class Maintained:
    created: list[str] = field(default_factory=list)
    moved_from_default: int = 0  # rows a new partition took over from the default partition


def maintain(engine: Engine, *, now: datetime, ahead: int) -> Maintained:
    """Creates the partitions ``plan`` asks for on every partitioned table (dropping expired ones is
    ``sinks.postgres.retention``'s)."""
    done = Maintained()
    for table, key in PARTITIONED.items():
        with engine.begin() as conn:
            todo = plan(table, existing_partitions(conn, table), now=now, ahead=ahead, keep_days=None)
        for partition in todo.create:
            done.moved_from_default += _create(engine, partition, key)
            done.created.append(partition.name)
    return done


def _create(engine: Engine, partition: Partition, key: str) -> int:
    """Creates ``partition``; rows of its range already in the default partition (an event dated ahead
    of the months created) move into it in the same transaction. Returns how many moved."""
    assert partition.lower is not None and partition.upper is not None
    table, name = partition.table, partition.name
    default = f"{table}_default"
    with engine.begin() as conn:
        has_default = conn.execute(text("SELECT to_regclass(:d) IS NOT NULL"), {"d": default}).scalar()
        waiting = (
            has_default
            and conn.execute(text(f"SELECT count(*) FROM {default} WHERE {in_range_sql(partition, key)}")).scalar()
        )
    if not waiting:
        try:
            retry(engine, f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES {bounds_sql(partition)}")
            return 0
        except IntegrityError:  # such a row reached the default partition since the count: move it
            pass
    retry(
        engine,
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)",
        *from_default(partition, into=name, key=key),
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES {bounds_sql(partition)}",
    )
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())


def bounds_sql(partition: Partition) -> str:
    """``partition``'s ``FOR VALUES`` clause."""
    lower = f"'{partition.lower.isoformat()}'" if partition.lower else "MINVALUE"
    upper = f"'{partition.upper.isoformat()}'" if partition.upper else "MAXVALUE"
    return f"FROM ({lower}) TO ({upper})"


def in_range_sql(partition: Partition, key: str) -> str:
    """A condition on ``key`` true for exactly the rows ``partition`` holds."""
    bounds = []
    if partition.lower is not None:
        bounds.append(f"{key} >= '{partition.lower.isoformat()}'")
    if partition.upper is not None:
        bounds.append(f"{key} < '{partition.upper.isoformat()}'")
    return " AND ".join(bounds) or "true"


def from_default(partition: Partition, *, into: str, key: str) -> list[str]:
    """Statements that move the rows of ``partition``'s range out of its table's default partition into
    the table ``into``, under the default partition's lock (nothing reaches it meanwhile), so that ``into``
    can then be attached as that range: attaching refuses while the default holds rows of it."""
    default, where = f"{partition.table}_default", in_range_sql(partition, key)
    return [
        f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE",
        f"INSERT INTO {into} SELECT * FROM {default} WHERE {where}",
        f"DELETE FROM {default} WHERE {where}",
    ]


def retry(engine: Engine, *statements: str) -> None:
    """``statements`` in one transaction under LOCK_TIMEOUT, again while a lock could not be had."""
    for attempt in range(ATTEMPTS):
        try:
            with engine.begin() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                for statement in statements:
                    conn.execute(text(statement))
            return
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03" or attempt == ATTEMPTS - 1:
                raise
            time.sleep(min(0.1 * 2**attempt, 5.0))  # a long transaction holds the table: let it finish
