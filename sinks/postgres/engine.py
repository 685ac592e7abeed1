"""Engine construction; built once at start-up and passed in.

Every engine hides statement parameters (``hide_parameters``): SQLAlchemy otherwise writes them into
the text of a failed statement's error, which the runtime logs, and they can be user ids, device
tokens or a notification's title (PHI)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine

# A processor's statements take milliseconds (a 20,000-row COPY well under a second). One that runs for a
# minute is a database that hangs (a lock held by a stuck session, a disk that stopped); one that waits
# for an answer that never comes is a network that dropped the connection silently. Either kept the
# loop waiting for good: no batch failed, the group rebalanced around a member that polled no more.
# Bounded, the batch fails as a transient error (SQLSTATE 57014 / 55P03, a broken connection), is
# retried with backoff, and /readyz reports it (docs/decisions/0173-database-calls-are-bounded.md).
STATEMENT_TIMEOUT_MS = 60_000
LOCK_TIMEOUT_MS = 30_000
# libpq: keepalive probes after 10 s of silence, every 5 s, 3 unanswered close the connection; data not
# acknowledged within 30 s does too (tcp_user_timeout).
_TCP = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def bounded(statement_timeout_ms: int = STATEMENT_TIMEOUT_MS, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> dict[str, Any]:
    """psycopg connect arguments that bound every statement, lock wait and silent connection."""
    return {"options": f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms}", **_TCP}


def build_engine(database_url: str, *, pool_size: int = 5, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> Engine:
    """A psycopg 3 engine; ``pool_pre_ping`` so a restarted Postgres costs one failed batch, not a crash."""
    return create_engine(
        database_url,
        pool_size=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
        future=True,
        connect_args=bounded(statement_timeout_ms),
    )


def build_reader(database_url: str, *, pool_size: int = 1, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> Engine:
    """An autocommit engine without pre-ping, for per-batch reads that are each one statement (the push
    sender's token and sent-pair reads): no BEGIN, no ROLLBACK on return, no ping on checkout, two
    round trips a batch instead of five. After a Postgres restart the first read on a dead connection
    fails, SQLAlchemy discards the pool, and the runtime redoes that batch on a fresh connection."""
    return create_engine(
        database_url,
        pool_size=pool_size,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
        future=True,
        connect_args=bounded(statement_timeout_ms),
    )


def raw_connection(sa_connection):
    """The psycopg connection under a SQLAlchemy connection, for COPY and pipelines."""
    return sa_connection.connection.driver_connection
