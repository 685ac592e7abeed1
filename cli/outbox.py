"""``herald outbox install``: the transactional outbox's tables in an EMR's database (streams/outbox_schema.py)."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from streams.outbox_schema import DEFAULT_TABLE, outbox_ddl


def sqlalchemy_url(url: str) -> str:
    """``url`` with the psycopg 3 driver, so a libpq-style ``postgresql://`` URL works as well."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def install(database_url: str, table: str = DEFAULT_TABLE) -> int:
    """Runs every outbox statement in one transaction; idempotent. Returns how many statements ran."""
    statements = outbox_ddl(table)
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()
    return len(statements)
