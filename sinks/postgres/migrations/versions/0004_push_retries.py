"""push_retries: the push sender's scheduled retries (docs/push.md, "Retries")

A push that failed with UNAVAILABLE, INTERNAL or QUOTA_EXCEEDED is parked here with its due time
(exponential backoff with jitter, never sooner than FCM's Retry-After) and the encoded PushRequest
to put back on the push topic when due. Offsets move on, so one user's retry never holds up a
partition; the sender's retry pump re-publishes due rows (FOR UPDATE SKIP LOCKED) and deletes them.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "push_retries",
        sa.Column("notification_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("first_failed_at", TZ, nullable=False),
        sa.Column("last_error", sa.String(64), nullable=False),
        sa.Column("record_key", sa.LargeBinary),
        sa.Column("record_value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_push_retries_due", "push_retries", ["due_at"])


def downgrade() -> None:
    op.drop_table("push_retries")
