"""Scratch databases (the integration tests' and the benchmarks'): dropped even with sessions inside."""

from __future__ import annotations

from sqlalchemy import text


def drop_database(admin, name: str) -> None:
    """Drops ``name`` through ``admin`` (an AUTOCOMMIT engine on another database of the same server).

    ``DROP DATABASE … WITH (FORCE)`` is refused to a role without pg_signal_backend as soon as an
    autovacuum worker is in the database (it happened at the end of a test session and of a latency
    run). So: end this role's own sessions in it (a processor's pool not yet closed), then a plain
    DROP, which stops autovacuum workers itself and waits up to 5 s for the ended sessions to go."""
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
