"""``herald outbox install``'s URL handling: a libpq URL gets the psycopg 3 driver."""

from __future__ import annotations

from cli.outbox import sqlalchemy_url


def test_a_libpq_url_gets_the_psycopg_driver():
    assert sqlalchemy_url("postgresql://emr:pw@db:5432/emr") == "postgresql+psycopg://emr:pw@db:5432/emr"


def test_a_sqlalchemy_url_is_kept():
    assert sqlalchemy_url("postgresql+psycopg://emr@db/emr") == "postgresql+psycopg://emr@db/emr"
