"""Idempotent bulk inserts (each measured by bench/persist.py; figures in the README):

* ``copy_new_rows``: look the batch's keys up, COPY the new rows straight into the table
  (``copy_new_rows_checked``: and find the rows that conflict with a stored version);
* ``copy_insert``: COPY into a temp staging table, then INSERT … SELECT … ON CONFLICT;
* ``executemany_insert``: psycopg 3's pipelined executemany of INSERT … ON CONFLICT.

Lock order. Two writers inserting overlapping keys in different orders deadlock on the unique index
(the persister's COPY and the fan-out's event upsert did, under load: Postgres found it after
``deadlock_timeout``, 1 s, and failed one batch). So every path here inserts in key order.

Every COPY here is binary, with the column types read from the catalogue once per process: psycopg
formats a binary row in C, several times faster than text format (docs/decisions/0016-binary-copy.md).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Callable, Iterable, Sequence
from uuid import UUID

from psycopg.errors import UniqueViolation

_TYPES: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def column_types(cursor, table: str, columns: Sequence[str]) -> list[int]:
    """The type oids of ``columns`` of ``table``, as binary COPY needs them (cached per process)."""
    key = (table, tuple(columns))
    if key not in _TYPES:
        cursor.execute(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        found = dict(cursor.fetchall())
        _TYPES[key] = [found[c] for c in columns]
    return _TYPES[key]


def in_key_order(rows: Sequence[tuple], at: int) -> list[tuple]:
    """``rows`` sorted by column ``at`` in Postgres's order. A ``uuid.UUID`` sorts by its ``int``:
    ``UUID.__lt__`` is Python code, several times slower over a persister's batch
    (docs/decisions/0036-hot-path-shortcuts.md). Strings (canonical, lower-case uuids) sort as they are."""
    if rows and isinstance(rows[0][at], UUID):
        return sorted(rows, key=lambda row: row[at].int)
    return sorted(rows, key=itemgetter(at))


def copy_rows(cursor, target: str, columns: Sequence[str], rows: Iterable[tuple], *, like: str | None = None) -> None:
    """Binary COPY of ``rows`` into ``target`` (whose column types are those of table ``like``, when
    given: a staging table made with LIKE)."""
    types = column_types(cursor, like or target, columns)
    with cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def copy_insert(
    cursor, table: str, columns: Sequence[str], rows: Iterable[tuple], *, conflict: str, order_by: str
) -> int:
    """Inserts ``rows`` into ``table``; ``conflict`` is the ON CONFLICT clause (e.g. ``(pk) DO NOTHING``),
    ``order_by`` its key columns: rows go in in that order (then in batch order, so of a key repeated
    under DO NOTHING the first row wins).

    The staging table lives for the connection and empties at commit; returns rows inserted or updated.
    """
    stage = f"{table}_stage"
    cols = ", ".join(columns)
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    copy_rows(cursor, stage, columns, rows, like=table)
    cursor.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ORDER BY {order_by}, ctid ON CONFLICT {conflict}"
    )
    return cursor.rowcount


def executemany_insert(cursor, table: str, columns: Sequence[str], rows: Sequence[tuple], *, conflict: str) -> None:
    """The same with psycopg 3's pipelined executemany (kept for the benchmark's comparison)."""
    placeholders = ", ".join(["%s"] * len(columns))
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) ON CONFLICT {conflict}", rows
    )


def copy_new_rows(cursor, table: str, columns: Sequence[str], rows: Sequence[tuple], *, key: str, conflict: str) -> int:
    """Inserts the rows whose ``key`` (a unique column) is not in ``table`` yet; returns how many.

    One index lookup for the batch's keys, then COPY straight into the table: Postgres inserts while
    the rows stream in, with no second pass over a staging table (``copy_insert`` writes every row
    twice). A key repeated in the batch keeps its first row. A row another writer commits between
    the lookup and the COPY makes the COPY fail on the unique index; that rolls back to a savepoint
    and the batch takes ``copy_insert``'s path, which skips the row.
    """
    at = columns.index(key)
    unique = {row[at]: row for row in reversed(rows)}  # reversed: the first row of a key wins
    cursor.execute(f"SELECT {key} FROM {table} WHERE {key} = ANY(%s)", (list(unique),))
    for (present,) in cursor.fetchall():
        del unique[present]
    inserted, _ = _copy_fresh(cursor, table, columns, list(unique.values()), at, conflict)
    return inserted


def copy_new_rows_checked(
    cursor,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple],
    *,
    key: str,
    conflict: str,
    content: Callable[[tuple], object],
) -> list[int]:
    """``copy_new_rows`` that also finds conflicting duplicates: rows whose key is already stored, or
    taken by an earlier row of the batch, with other ``content`` (a row's comparable value, of a row
    in ``columns`` order). Returns their indexes in ``rows``; they are not written, the first version
    stays. The lookup reads whole rows, but only the stored ones come back: a batch of new keys costs
    what ``copy_new_rows``' costs. When a row another writer committed between the lookup and the
    COPY makes it fall back, the whole batch is compared with what is stored after the insert."""
    at = columns.index(key)
    first: dict = {}
    for i, row in enumerate(rows):
        first.setdefault(row[at], i)
    cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ANY(%s)", (list(first),))
    stored = {row[at]: content(row) for row in cursor.fetchall()}
    differing, fresh = [], []
    for i, row in enumerate(rows):
        k = row[at]
        if k in stored:
            if content(row) != stored[k]:
                differing.append(i)
        elif first[k] == i:
            fresh.append(row)
        elif content(row) != content(rows[first[k]]):
            differing.append(i)
    _, fell_back = _copy_fresh(cursor, table, columns, fresh, at, conflict)
    if fell_back:  # every key is stored now, some by the other writer: compare the batch with what is
        return stored_differing(cursor, table, columns, rows, key=key, content=content)
    return differing


def stored_differing(
    cursor, table: str, columns: Sequence[str], rows: Sequence[tuple], *, key: str, content: Callable[[tuple], object]
) -> list[int]:
    """After an insert that kept existing rows (DO NOTHING): the indexes of ``rows`` whose stored row
    (the first version) has other ``content``."""
    at = columns.index(key)
    if not rows:
        return []
    cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ANY(%s)", (list({r[at] for r in rows}),))
    stored = {row[at]: content(row) for row in cursor.fetchall()}
    return [i for i, row in enumerate(rows) if row[at] in stored and content(row) != stored[row[at]]]


def staged_differing(cursor, table: str, key: str, columns: Sequence[str]) -> list:
    """After ``copy_insert`` into ``table`` in this transaction: the keys of staged rows whose row in the
    table differs in ``columns`` (compared by Postgres: JSONB by value, timestamps as instants), i.e.
    keys that another version holds."""
    pairs = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in columns)
    cursor.execute(f"SELECT s.{key} FROM {table}_stage s JOIN {table} t USING ({key}) WHERE {pairs}")
    return [k for (k,) in cursor.fetchall()]


def _copy_fresh(
    cursor, table: str, columns: Sequence[str], fresh: list[tuple], at: int, conflict: str
) -> tuple[int, bool]:
    """COPYs rows whose keys were not found; (rows inserted, whether a row committed meanwhile made it
    fall back to ``copy_insert``)."""
    if not fresh:
        return 0, False
    fresh = in_key_order(fresh, at)  # see the module doc
    cursor.execute("SAVEPOINT herald_copy")
    try:
        copy_rows(cursor, table, columns, fresh)
    except UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT herald_copy")
        return copy_insert(cursor, table, columns, fresh, conflict=conflict, order_by=columns[at]), True
    return len(fresh), False
