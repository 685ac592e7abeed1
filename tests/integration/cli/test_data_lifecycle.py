"""``herald partitions`` / ``retention``' database connection: its statements may run as long as
``HERALD_UPKEEP_STATEMENT_TIMEOUT_S`` says, not the pipeline's 60 s (a month's archive COPY takes minutes)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cli.data_lifecycle import _engine

pytestmark = pytest.mark.integration


def test_the_commands_statements_are_bounded_by_the_upkeep_setting(database_url, monkeypatch):
    monkeypatch.setenv("HERALD_DATABASE_URL", database_url)
    monkeypatch.setenv("HERALD_UPKEEP_STATEMENT_TIMEOUT_S", "2345")
    engine = _engine()
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "2345s"
    finally:
        engine.dispose()
