"""The outbox's DDL: Debezium's column names, idempotent statements, a checked table name."""

from __future__ import annotations

import pytest

from streams.outbox_schema import (
    RELAY_LOCK_CLASS,
    SLEEP_LOCK_CLASS,
    SLEEPER_LOCK_CLASS,
    WRITER_LOCK_CLASS,
    channel,
    dead_table,
    outbox_ddl,
    outbox_drop_ddl,
)


def test_every_statement_is_idempotent():
    for statement in outbox_ddl():
        head = " ".join(statement.split()[:8]).upper()
        assert "IF NOT EXISTS" in head or "OR REPLACE" in head, statement


def test_the_table_has_debeziums_outbox_columns_and_the_relays_order():
    create = outbox_ddl()[0]
    for column in ("id uuid PRIMARY KEY", "aggregatetype text", "aggregateid text", "type text", "payload bytea"):
        assert column in create
    assert "seq bigint GENERATED ALWAYS AS IDENTITY" in create
    assert "created_at timestamptz NOT NULL DEFAULT now()" in create


def test_the_trigger_notifies_once_per_statement_on_the_tables_channel():
    ddl = "\n".join(outbox_ddl("emr_outbox"))
    assert "pg_notify('emr_outbox', '')" in ddl
    # only while a relay sleeps behind the gate: a notifying commit waits for every other one
    gated = f"IF NOT pg_try_advisory_xact_lock_shared({SLEEP_LOCK_CLASS}, hashtext('emr_outbox')) THEN"
    assert ddl.index(gated) < ddl.index("pg_notify(")
    assert "AFTER INSERT ON emr_outbox FOR EACH STATEMENT" in ddl
    assert f"CREATE TABLE IF NOT EXISTS {dead_table('emr_outbox')}" in ddl
    assert channel() == "herald_outbox"


@pytest.mark.parametrize("bad", ["", "Outbox", "a;drop table x", 'x"y', "public.outbox", "x" * 60])
def test_a_table_name_that_is_not_a_plain_identifier_is_refused(bad):
    with pytest.raises(ValueError):
        outbox_ddl(bad)


def test_drop_reverses_the_install():
    assert outbox_drop_ddl() == [
        "DROP TABLE IF EXISTS herald_outbox",
        "DROP FUNCTION IF EXISTS herald_outbox_notify()",
        "DROP TABLE IF EXISTS herald_outbox_dead",
    ]


def test_the_lock_classes_are_distinct_int4_keys():
    classes = (WRITER_LOCK_CLASS, RELAY_LOCK_CLASS, SLEEP_LOCK_CLASS, SLEEPER_LOCK_CLASS)
    assert len(set(classes)) == len(classes)
    assert all(0 < c < 2**31 for c in classes)
