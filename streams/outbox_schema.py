"""The transactional outbox's tables, in one place: ``herald outbox install`` runs these statements, and an
EMR's own Alembic migration can run the same ones (``for s in outbox_ddl(): op.execute(s)``; docs/outbox.md).

The table follows the column names of Debezium's outbox event router (``id``, ``aggregatetype``,
``aggregateid``, ``type``, ``payload``), so either Herald's relay or Debezium can carry it to Kafka. Every
statement is idempotent (``IF NOT EXISTS``, ``CREATE OR REPLACE``): running them twice changes nothing.
"""

from __future__ import annotations

import re

DEFAULT_TABLE = "herald_outbox"

# The two classes of advisory locks (the first int4 key of pg_advisory_xact_lock(int4, int4)); the second
# key is hashtext(aggregateid). Writers serialize per key from their insert to their commit, so within a key
# seq order is commit order; relays hold a key for the duration of one pass, so two relays never send one
# key's rows at once. Two distinct classes: a relay never waits for a writer, nor a writer for a relay.
WRITER_LOCK_CLASS = 0x48_52_4C_57  # "HRLW"
RELAY_LOCK_CLASS = 0x48_52_4C_52  # "HRLR"
# The sleep gate (second key: hashtext(table)). A relay about to sleep on LISTEN takes it exclusively for as
# long as it sleeps; the insert trigger notifies only when it cannot take it shared, that is only while a relay
# sleeps (or is about to). pg_notify holds PostgreSQL's cluster-wide notify lock from commit to the WAL flush,
# so notifying transactions commit one at a time: under load, when no relay sleeps, writers never notify and
# commit side by side. Lock state is not MVCC, so no isolation level can read a stale gate
# (processors/outbox_relay/wakeup.py; docs/decisions/0217).
SLEEP_LOCK_CLASS = 0x48_52_4C_53  # "HRLS"
# The sleeper's badge (same second key): the relay holding the gate also holds this, so another relay that
# finds the gate taken can tell a sleeping relay (sleep too: the notifications reach every listener) from
# writers in flight (rows are coming: look again soon).
SLEEPER_LOCK_CLASS = 0x48_52_4C_42  # "HRLB"

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,50}")  # room for the _dead / _notify suffixes within 63 bytes


def checked_table(table: str) -> str:
    """``table`` if it is a plain lower-case SQL identifier; it is put into statements as text, so
    anything else (quotes, a schema, spaces) is refused rather than quoted."""
    if not _IDENTIFIER.fullmatch(table):
        raise ValueError(f"outbox table name must match {_IDENTIFIER.pattern}: {table!r}")
    return table


def dead_table(table: str = DEFAULT_TABLE) -> str:
    """The dead-letter table of an outbox table: rows the broker refused for good, with the reason."""
    return f"{checked_table(table)}_dead"


def channel(table: str = DEFAULT_TABLE) -> str:
    """The LISTEN/NOTIFY channel an insert into ``table`` notifies: the table's name."""
    return checked_table(table)


def outbox_ddl(table: str = DEFAULT_TABLE) -> list[str]:
    """Every statement that creates the outbox, its relay index, its insert trigger and its dead-letter
    table; idempotent, in order."""
    t = checked_table(table)
    dead = dead_table(t)
    return [
        f"""CREATE TABLE IF NOT EXISTS {t} (
    id uuid PRIMARY KEY,
    aggregatetype text NOT NULL,
    aggregateid text NOT NULL,
    type text NOT NULL,
    payload bytea,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    created_at timestamptz NOT NULL DEFAULT now(),
    traceparent text,
    tracestate text
)""",
        # The W3C trace context of the writer's span, sent as the record's headers (null: not traced). Added
        # for outboxes installed before the columns existed; Debezium can place them as headers too.
        f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS traceparent text",
        f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS tracestate text",
        # The relay reads the oldest rows first: without it every pass would sort the whole table.
        f"CREATE UNIQUE INDEX IF NOT EXISTS {t}_seq ON {t} (seq)",
        # At most one notification per inserting statement, and only while a relay sleeps (SLEEP_LOCK_CLASS);
        # Postgres folds equal ones of a transaction into one, delivered at commit. A writer that takes the
        # gate shared holds it to its commit, so a relay cannot go to sleep before that writer's rows are
        # visible to the look it takes after closing the gate.
        f"""CREATE OR REPLACE FUNCTION {t}_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared({SLEEP_LOCK_CLASS}, hashtext('{t}')) THEN
        PERFORM pg_notify('{channel(t)}', '');
    END IF;
    RETURN NULL;
END
$$""",
        f"CREATE OR REPLACE TRIGGER {t}_notify AFTER INSERT ON {t} FOR EACH STATEMENT EXECUTE FUNCTION {t}_notify()",
        f"""CREATE TABLE IF NOT EXISTS {dead} (
    id uuid PRIMARY KEY,
    aggregatetype text NOT NULL,
    aggregateid text NOT NULL,
    type text NOT NULL,
    payload bytea,
    seq bigint NOT NULL,
    created_at timestamptz NOT NULL,
    reason text NOT NULL,
    dead_at timestamptz NOT NULL DEFAULT now()
)""",
    ]


def outbox_drop_ddl(table: str = DEFAULT_TABLE) -> list[str]:
    """The reverse of ``outbox_ddl``, for a migration's downgrade (the dead letters go too)."""
    t = checked_table(table)
    return [
        f"DROP TABLE IF EXISTS {t}",
        f"DROP FUNCTION IF EXISTS {t}_notify()",
        f"DROP TABLE IF EXISTS {dead_table(t)}",
    ]
