"""Turning a plain table into one partitioned by month of a time column, while writers keep writing.

Used by the migrations that partition a table (0009, 0010); decision 0231 says why this way:

1. ``CREATE UNIQUE INDEX CONCURRENTLY (id…, key)`` on the existing table (writers go on);
2. ``CHECK (key < boundary) NOT VALID``, then ``VALIDATE`` (a scan that blocks no writer); ``boundary``
   is the first month starting at least 7 days from now, so rows written meanwhile satisfy it;
3. one transaction under ``lock_timeout`` (retried when a long transaction holds the table): the table
   becomes ``<table>_legacy``, its primary key the index of step 1; a partitioned table takes the old
   name with the same columns, indexes and triggers (read from the catalogue); the legacy table is
   attached for (MINVALUE, boundary), which the validated CHECK lets Postgres accept without a scan,
   and its indexes are adopted, not rebuilt; monthly partitions from the boundary on and a default
   partition (an event dated past the months created goes there instead of failing the writer) follow.

Every step is idempotent, so a migration interrupted anywhere can be run again. Statements are executed
on a connection in autocommit mode (Alembic's ``autocommit_block``): CONCURRENTLY needs it, and step 3
opens its own transactions to retry them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError

LOCK_TIMEOUT = "2s"  # the swap waits at most this long for the table (writers queue behind it this long)
ATTEMPTS = 60


def boundary_after(now: datetime) -> datetime:
    """The first month starting at least 7 days after ``now`` (UTC)."""
    soon = (now + timedelta(days=7)).astimezone(timezone.utc)
    year, month = (soon.year + 1, 1) if soon.month == 12 else (soon.year, soon.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def next_month(month: datetime) -> datetime:
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)


def is_partitioned(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}).scalar()
    )


def convert(conn: Connection, table: str, ids: Sequence[str], key: str, *, now: datetime, months_ahead: int) -> None:
    """Steps 1 to 3 for ``table`` (primary key ``ids``, partition ``key``); nothing when already done."""
    if is_partitioned(conn, table):
        return
    boundary = boundary_after(now)
    _prepare(conn, table, ids, key, boundary)
    retry(conn, *_swap_statements(conn, table, ids, key, boundary, months_ahead))
    conn.execute(text(f"ANALYZE {table}"))  # autovacuum never analyzes a partitioned parent


def _prepare(conn: Connection, table: str, ids: Sequence[str], key: str, boundary: datetime) -> None:
    invalid = conn.execute(
        text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:i)"), {"i": f"{table}_id_key"}
    ).scalar()
    if invalid:  # a CONCURRENTLY build that was interrupted leaves an invalid index: build it again
        conn.execute(text(f"DROP INDEX CONCURRENTLY {table}_id_key"))
    columns = ", ".join([*ids, key])
    conn.execute(text(f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {table}_id_key ON {table} ({columns})"))
    exists = conn.execute(
        text("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(:t) AND conname = :c"),
        {"t": table, "c": f"{table}_legacy_bound"},
    ).scalar()
    if not exists:
        retry(
            conn,
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_legacy_bound CHECK ({key} < '{boundary.isoformat()}') NOT VALID",
        )
    conn.execute(text(f"ALTER TABLE {table} VALIDATE CONSTRAINT {table}_legacy_bound"))


def retry(conn: Connection, *statements: str) -> None:
    """Runs ``statements`` in one transaction, again when it could not take its locks in LOCK_TIMEOUT."""
    for attempt in range(ATTEMPTS):
        conn.execute(text("BEGIN"))
        try:
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            for statement in statements:
                conn.execute(text(statement))
            conn.execute(text("COMMIT"))
            return
        except OperationalError as exc:
            conn.execute(text("ROLLBACK"))
            if getattr(exc.orig, "sqlstate", None) != "55P03" or attempt == ATTEMPTS - 1:
                raise
            time.sleep(min(0.1 * 2**attempt, 5.0))  # a long transaction holds the table: let it finish


def _swap_statements(
    conn: Connection, table: str, ids: Sequence[str], key: str, boundary: datetime, months_ahead: int
) -> list[str]:
    """Step 3's statements, from the catalogue: the table's indexes and triggers, recreated on the parent."""
    legacy = f"{table}_legacy"
    indexes = conn.execute(
        text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(:t) AND NOT i.indisprimary AND c.relname <> :key ORDER BY c.relname"
        ),
        {"t": table, "key": f"{table}_id_key"},
    ).all()
    triggers = conn.execute(
        text(
            "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal "
            "ORDER BY tgname"
        ),
        {"t": table},
    ).all()
    pkey = conn.execute(
        text("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'p'"), {"t": table}
    ).scalar_one()
    statements = [f"ALTER TABLE {table} RENAME TO {legacy}"]
    statements += [f"DROP TRIGGER {name} ON {legacy}" for name, _ in triggers]
    statements += [f"ALTER INDEX {name} RENAME TO {name}_legacy" for name, _ in indexes]
    statements += [
        f"ALTER TABLE {legacy} DROP CONSTRAINT {pkey}",
        f"ALTER TABLE {legacy} ADD CONSTRAINT {legacy}_pkey PRIMARY KEY USING INDEX {table}_id_key",
        f"CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})",
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join([*ids, key])})",
    ]
    statements += [definition for _, definition in indexes]  # "... ON public.<table> ...": now the parent
    statements += [definition for _, definition in triggers]
    statements.append(
        f"ALTER TABLE {table} ATTACH PARTITION {legacy} FOR VALUES FROM (MINVALUE) TO ('{boundary.isoformat()}')"
    )
    statements.append(f"ALTER TABLE {legacy} DROP CONSTRAINT {table}_legacy_bound")
    month = boundary
    for _ in range(months_ahead + 1):
        following = next_month(month)
        statements.append(
            f"CREATE TABLE {table}_p{month:%Y%m} PARTITION OF {table} "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
        )
        month = following
    statements.append(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    return statements


def unpartition(conn: Connection, table: str, ids: Sequence[str]) -> None:
    """Back to a plain table with primary key ``ids`` (a downgrade: copies every row, so for scratch
    databases, not a live one)."""
    indexes = (
        conn.execute(
            text(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = to_regclass(:t) AND NOT indisprimary"
            ),
            {"t": table},
        )
        .scalars()
        .all()
    )
    triggers = (
        conn.execute(
            text("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal"),
            {"t": table},
        )
        .scalars()
        .all()
    )
    conn.execute(text(f"CREATE TABLE {table}_plain (LIKE {table} INCLUDING DEFAULTS)"))
    conn.execute(text(f"INSERT INTO {table}_plain SELECT * FROM {table}"))
    conn.execute(text(f"DROP TABLE {table}"))
    conn.execute(text(f"ALTER TABLE {table}_plain RENAME TO {table}"))
    conn.execute(text(f"ALTER TABLE {table} ADD PRIMARY KEY ({', '.join(ids)})"))
    for definition in [*indexes, *triggers]:
        conn.execute(text(definition.replace(" ON ONLY ", " ON ")))
