"""Idempotent bulk insert: COPY into a temp staging table, then INSERT … SELECT … ON CONFLICT.

Measured on this machine (bench/persist.py): COPY-to-staging beats psycopg 3's pipelined
executemany at the batch sizes the runtime uses; see the README for the figures.
"""
from __future__ import annotations

from typing import Iterable, Sequence


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
