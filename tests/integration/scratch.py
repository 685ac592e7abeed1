"""Scratch objects of the integration tests: a database of a test's own, a partitioned table of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from cli.devstack.databases import drop_database


@contextmanager
def scratch_database(base_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database ``<prefix>_<random>`` beside ``base_url``'s, dropped when the block ends; yields
    its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


def partitioned_table(engine: Engine, prefix: str, columns: str, months: dict[str, tuple[str, str]]) -> str:
    """Creates ``<prefix>_<random> (columns)`` partitioned by range of ``occurred_at``, with a partition
    ``<name>_<suffix>`` per entry of ``months`` (suffix → lower, upper) and a default partition; returns
    its name. Drop it with ``DROP TABLE <name>`` (its partitions go with it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {name} ({columns}) PARTITION BY RANGE (occurred_at)"))
        for suffix, (lower, upper) in months.items():
            conn.execute(
                text(f"CREATE TABLE {name}_{suffix} PARTITION OF {name} FOR VALUES FROM ('{lower}') TO ('{upper}')")
            )
        conn.execute(text(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT"))
    return name
