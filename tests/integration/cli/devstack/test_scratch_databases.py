"""Scratch databases are dropped even while a session is still in them (cli.devstack.databases)."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli.devstack.databases import drop_database


def test_given_a_session_left_open_in_it_then_a_scratch_database_is_still_dropped(services):
    name = f"herald_drop_{uuid.uuid4().hex[:8]}"
    admin = create_engine(services.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    leftover = create_engine(make_url(services.database_url).set(database=name))
    session = leftover.connect()  # like a processor's pool that was never closed
    session.execute(text("SELECT 1"))

    drop_database(admin, name)

    with admin.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}).scalar() == 0
    session.invalidate()  # its backend was ended by the drop
    leftover.dispose()
    admin.dispose()
