"""activity_events and its indexes

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_events",
        sa.Column("event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("actor_user_id", sa.String(64)),
        sa.Column("patient_id", sa.String(64)),
        sa.Column("encounter_id", sa.String(64)),
        sa.Column("resource_type", sa.String(64)),
        sa.Column("resource_id", sa.String(128)),
        sa.Column("practitioner_user_id", sa.String(64)),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("notify", sa.Boolean, nullable=False),
        sa.Column("visibility", sa.String(32)),
        sa.Column("attributes", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("source", sa.String(64), nullable=False, server_default=""),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("notification_sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_activity_events_org_time", "activity_events",
                    ["organization_id", sa.text("occurred_at DESC"), sa.text("event_id DESC")])
    op.create_index("ix_activity_events_patient_time", "activity_events", ["patient_id", sa.text("occurred_at DESC")])
    op.create_index("ix_activity_events_unsent", "activity_events", ["occurred_at"],
                    postgresql_where=sa.text("notify AND notification_sent_at IS NULL"))


def downgrade() -> None:
    op.drop_table("activity_events")
