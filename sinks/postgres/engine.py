"""Engine construction; built once at start-up and passed in.

Every engine hides statement parameters (``hide_parameters``): SQLAlchemy otherwise writes them into
the text of a failed statement's error, which the runtime logs, and they can be user ids, device
tokens or a notification's title (PHI)."""
from __future__ import annotations

from sqlalchemy import Engine, create_engine


def build_engine(database_url: str, *, pool_size: int = 5) -> Engine:
    """A psycopg 3 engine; ``pool_pre_ping`` so a restarted Postgres costs one failed batch, not a crash."""
    return create_engine(database_url, pool_size=pool_size, pool_pre_ping=True, hide_parameters=True, future=True)


def build_reader(database_url: str, *, pool_size: int = 1) -> Engine:
    """An autocommit engine without pre-ping, for per-batch reads that are each one statement (the push
    sender's token and sent-pair reads): no BEGIN, no ROLLBACK on return, no ping on checkout, two
    round trips a batch instead of five. After a Postgres restart the first read on a dead connection
    fails, SQLAlchemy discards the pool, and the runtime redoes that batch on a fresh connection."""
    return create_engine(database_url, pool_size=pool_size, isolation_level="AUTOCOMMIT",
                         hide_parameters=True, future=True)


def raw_connection(sa_connection):
    """The psycopg connection under a SQLAlchemy connection, for COPY and pipelines."""
    return sa_connection.connection.driver_connection
