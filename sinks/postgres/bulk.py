"""Idempotent bulk inserts (each measured by bench/persist.py; figures in the README):

* ``copy_new_rows``: look the batch's keys up, COPY the new rows straight into the table;
* ``copy_insert``: COPY into a temp staging table, then INSERT … SELECT … ON CONFLICT;
* ``executemany_insert``: psycopg 3's pipelined executemany of INSERT … ON CONFLICT.

Lock order. Two writers inserting overlapping keys in different orders deadlock on the unique index
(the persister's COPY and the fan-out's event upsert did, under load: Postgres found it after
``deadlock_timeout``, 1 s, and failed one batch). So every path here inserts in key order.

Every COPY here is binary, with the column types read from the catalogue once per process: psycopg
formats a binary row in C (~1.6 µs for a 12-column bell row here, against ~7 µs in text format).
"""
from __future__ import annotations

from operator import itemgetter
from typing import Iterable, Sequence
from uuid import UUID

from psycopg.errors import UniqueViolation

_TYPES: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def column_types(cursor, table: str, columns: Sequence[str]) -> list[int]:
    """The type oids of ``columns`` of ``table``, as binary COPY needs them (cached per process)."""
    key = (table, tuple(columns))
    if key not in _TYPES:
        cursor.execute("SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass "
                       "AND attnum > 0 AND NOT attisdropped", (table,))
        found = dict(cursor.fetchall())
        _TYPES[key] = [found[c] for c in columns]
    return _TYPES[key]


def in_key_order(rows: Sequence[tuple], at: int) -> list[tuple]:
    """``rows`` sorted by column ``at`` in Postgres's order. A ``uuid.UUID`` sorts by its ``int``:
    ``UUID.__lt__`` is Python code, 52 ms for 20,000 rows against 9 (the persister's batch; sorting
    with it cost the persister ~20 % of its rate in bench/persist_peer.py). Strings (canonical,
    lower-case uuids) sort as they are."""
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


def copy_insert(cursor, table: str, columns: Sequence[str], rows: Iterable[tuple], *, conflict: str,
                order_by: str) -> int:
    """Inserts ``rows`` into ``table``; ``conflict`` is the ON CONFLICT clause (e.g. ``(pk) DO NOTHING``),
    ``order_by`` its key columns: rows go in in that order (then in batch order, so of a key repeated
    under DO NOTHING the first row wins).

    The staging table lives for the connection and empties at commit; returns rows inserted or updated.
    """
    stage = f"{table}_stage"
    cols = ", ".join(columns)
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    copy_rows(cursor, stage, columns, rows, like=table)
    cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ORDER BY {order_by}, ctid "
                   f"ON CONFLICT {conflict}")
    return cursor.rowcount


def executemany_insert(cursor, table: str, columns: Sequence[str], rows: Sequence[tuple], *, conflict: str) -> None:
    """The same with psycopg 3's pipelined executemany (kept for the benchmark's comparison)."""
    placeholders = ", ".join(["%s"] * len(columns))
    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) ON CONFLICT {conflict}", rows)


def copy_new_rows(cursor, table: str, columns: Sequence[str], rows: Sequence[tuple], *, key: str,
                  conflict: str) -> int:
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
    if not unique:
        return 0
    fresh = in_key_order(list(unique.values()), at)  # see the module doc
    cursor.execute("SAVEPOINT herald_copy")
    try:
        copy_rows(cursor, table, columns, fresh)
    except UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT herald_copy")
        return copy_insert(cursor, table, columns, fresh, conflict=conflict, order_by=key)
    return len(fresh)
