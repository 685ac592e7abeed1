"""A scratch EMR database for the outbox tests: created for the test, with the outbox installed, dropped after."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli.devstack.databases import drop_database
from cli.outbox import install


@pytest.fixture
def emr_database_url(services):
    """A fresh database standing in for the EMR's, with ``herald outbox install`` run on it."""
    name = f"emr_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(services.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(services.database_url).set(database=name).render_as_string(hide_password=False)
    install(url)
    yield url
    drop_database(admin, name)
    admin.dispose()


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg.connect takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def outbox_rows(url: str, table: str = "herald_outbox") -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY seq")).all()
    engine.dispose()
    return rows
