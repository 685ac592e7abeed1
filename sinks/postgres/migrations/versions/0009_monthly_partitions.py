"""activity_events and user_notifications become partitioned by month of the event's occurred_at, online

Each table's primary key becomes (id, occurred_at): Postgres enforces uniqueness on a partitioned table
only with the partition key in the key. ``occurred_at`` is the event's time, carried unchanged by every
redelivery and copied onto each of its bell rows, so a duplicate lands in the partition holding the
first copy whatever month it arrives in, and ON CONFLICT still finds it
(docs/decisions/0230-partition-key-is-the-event-time.md).

The conversion (``sinks.postgres.online_partitioning``; docs/decisions/0231-online-partitioning.md)
never holds a lock that blocks writers for longer than one short transaction, so it runs while the
persister and the fan-out write: the old table becomes the partition ``<table>_legacy`` of everything
before the first month starting 7 days from now, without moving a row, and that month and the 3 after
it get partitions of their own, as does anything later (a default partition). Later months are created
by ``herald partitions maintain`` (sinks/postgres/partitions.py).

Revision ID: 0009_monthly_partitions
Revises: 0008_opened_receipts
"""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import op

from sinks.postgres.online_partitioning import convert, unpartition

revision = "0009_monthly_partitions"
down_revision = "0008_opened_receipts"
branch_labels = None
depends_on = None

TABLES = {"activity_events": "event_id", "user_notifications": "notification_id"}


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for table, id_column in TABLES.items():
            convert(op.get_bind(), table, [id_column], "occurred_at", now=datetime.now(timezone.utc), months_ahead=3)


def downgrade() -> None:
    for table, id_column in TABLES.items():
        unpartition(op.get_bind(), table, [id_column])
