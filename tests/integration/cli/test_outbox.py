"""``herald outbox install`` on a real Postgres: it creates the outbox and runs again without error."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from cli.main import app
from tests.integration.outbox_db import emr_database_url, libpq_url  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


def test_install_from_the_command_line_twice_with_a_libpq_url(emr_database_url):  # noqa: F811
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:  # the fixture installed it: start from nothing
        conn.execute(text("DROP TABLE herald_outbox, herald_outbox_dead; DROP FUNCTION herald_outbox_notify()"))
    for _ in range(2):
        result = CliRunner().invoke(app, ["outbox", "install", "--database-url", libpq_url(emr_database_url)])
        assert result.exit_code == 0, result.output
        assert "outbox herald_outbox installed" in result.output
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'herald_outbox%'")).scalars()
        assert sorted(tables) == ["herald_outbox", "herald_outbox_dead"]
    engine.dispose()
