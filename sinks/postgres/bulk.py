"""Idempotent bulk inserts (each measured by bench/persist.py; figures in the README):

* ``copy_new_rows``: look the batch's keys up, COPY the new rows straight into the table;
* ``copy_insert``: COPY into a temp staging table, then INSERT … SELECT … ON CONFLICT;
* ``executemany_insert``: psycopg 3's pipelined executemany of INSERT … ON CONFLICT.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from psycopg.errors import UniqueViolation


def copy_insert(cursor, table: str, columns: Sequence[str], rows: Iterable[tuple], *, conflict: str) -> int:
    """Inserts ``rows`` into ``table``; ``conflict`` is the ON CONFLICT clause (e.g. ``(pk) DO NOTHING``).

    The staging table lives for the connection and empties at commit; returns rows inserted or updated.
    """
    stage = f"{table}_stage"
    cols = ", ".join(columns)
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    with cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT {conflict}")
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
    fresh = [row for row in rows if unique.get(row[at]) is row]  # batch order, for locality
    cursor.execute("SAVEPOINT herald_copy")
    try:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in fresh:
                copy.write_row(row)
    except UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT herald_copy")
        return copy_insert(cursor, table, columns, fresh, conflict=conflict)
    return len(fresh)
