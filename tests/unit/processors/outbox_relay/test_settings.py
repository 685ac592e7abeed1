"""The relay's database URL: an EMR's libpq URL works as given."""

from __future__ import annotations

from processors.outbox_relay.settings import OutboxRelaySettings


def test_a_libpq_url_gets_the_psycopg_3_driver():
    for url in ("postgresql://emr:pw@db:5432/emr?sslmode=require", "postgres://emr:pw@db:5432/emr?sslmode=require"):
        settings = OutboxRelaySettings(outbox_database_url=url)
        assert settings.outbox_database_url == "postgresql+psycopg://emr:pw@db:5432/emr?sslmode=require"


def test_a_sqlalchemy_url_is_kept_and_herald_database_url_is_not_read(monkeypatch):
    monkeypatch.setenv("HERALD_DATABASE_URL", "postgresql+psycopg://herald@elsewhere/herald")
    monkeypatch.setenv("HERALD_OUTBOX_DATABASE_URL", "postgresql+psycopg://emr@db/emr")
    assert OutboxRelaySettings().outbox_database_url == "postgresql+psycopg://emr@db/emr"
