"""Engine construction; built once at start-up and passed in (STYLE 17)."""
from __future__ import annotations

from sqlalchemy import Engine, create_engine


def build_engine(database_url: str, *, pool_size: int = 5) -> Engine:
    """A psycopg 3 engine; ``pool_pre_ping`` so a restarted Postgres costs one failed batch, not a crash."""
    return create_engine(database_url, pool_size=pool_size, pool_pre_ping=True, future=True)


def raw_connection(sa_connection):
    """The psycopg connection under a SQLAlchemy connection, for COPY and pipelines."""
    return sa_connection.connection.driver_connection
