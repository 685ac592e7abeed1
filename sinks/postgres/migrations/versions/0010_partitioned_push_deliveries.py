"""push_deliveries becomes partitioned by month of the event's occurred_at, online

A delivery row gains ``occurred_at``, the push request's (the event's time, or for a digest the time the
scheduler gave it): the same for every redelivery or retry of the request, so the primary key
(notification_id, token, occurred_at) keeps the push sender's upsert idempotent across months
(docs/decisions/0230-partition-key-is-the-event-time.md). Rows written before this migration, or by a
push sender of the previous version while it runs, have no event time: they get ``-infinity`` (a
constant default, so adding the column rewrites nothing) and stay in the legacy partition, which
retention drops whole once the months after it are expired.

The conversion is migration 0009's (``sinks.postgres.online_partitioning``).

Revision ID: 0010_partitioned_push_deliveries
Revises: 0009_monthly_partitions
"""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import op

from sinks.postgres.online_partitioning import convert, is_partitioned, retry, unpartition

revision = "0010_partitioned_push_deliveries"
down_revision = "0009_monthly_partitions"
branch_labels = None
depends_on = None

IDS = ["notification_id", "token"]


def upgrade() -> None:
    with op.get_context().autocommit_block():
        conn = op.get_bind()
        if not is_partitioned(conn, "push_deliveries"):
            retry(
                conn,
                "ALTER TABLE push_deliveries ADD COLUMN IF NOT EXISTS occurred_at timestamptz NOT NULL DEFAULT '-infinity'",
            )
        convert(conn, "push_deliveries", IDS, "occurred_at", now=datetime.now(timezone.utc), months_ahead=3)


def downgrade() -> None:
    unpartition(op.get_bind(), "push_deliveries", IDS)
    op.drop_column("push_deliveries", "occurred_at")
