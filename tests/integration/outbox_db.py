"""A scratch EMR database for the outbox tests: created for the test, with the outbox installed, dropped after."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli.outbox import install
from tests.integration.scratch import scratch_database


@pytest.fixture
def emr_database_url(services):
    """A fresh database standing in for the EMR's, with ``herald outbox install`` run on it."""
    with scratch_database(services.database_url, "emr_test") as url:
        install(url)
        yield url


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg.connect takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def outbox_rows(url: str, table: str = "herald_outbox") -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY seq")).all()
    engine.dispose()
    return rows
