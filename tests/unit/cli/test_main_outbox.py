"""``herald run outbox-relay --database-url URL`` hands the URL to the relay as its own setting."""

from __future__ import annotations

import sys
import types

from typer.testing import CliRunner

from cli.main import app


def test_the_database_url_option_becomes_the_relays_setting(monkeypatch):
    seen = {}
    fake = types.ModuleType("processors.outbox_relay.__main__")
    fake.main = lambda: seen.update(url=__import__("os").environ.get("HERALD_OUTBOX_DATABASE_URL"))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "processors.outbox_relay.__main__", fake)
    monkeypatch.delenv("HERALD_OUTBOX_DATABASE_URL", raising=False)

    result = CliRunner().invoke(app, ["run", "outbox-relay", "--database-url", "postgresql+psycopg://emr@db/emr"])

    assert result.exit_code == 0, result.output
    assert seen == {"url": "postgresql+psycopg://emr@db/emr"}  # monkeypatch unsets it again afterwards


def test_without_the_option_the_environment_decides(monkeypatch):
    seen = {}
    fake = types.ModuleType("processors.outbox_relay.__main__")
    fake.main = lambda: seen.update(url=__import__("os").environ.get("HERALD_OUTBOX_DATABASE_URL"))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "processors.outbox_relay.__main__", fake)
    monkeypatch.setenv("HERALD_OUTBOX_DATABASE_URL", "postgresql+psycopg://emr@env/emr")

    assert CliRunner().invoke(app, ["run", "outbox-relay"]).exit_code == 0
    assert seen == {"url": "postgresql+psycopg://emr@env/emr"}
