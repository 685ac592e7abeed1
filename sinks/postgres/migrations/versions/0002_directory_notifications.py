"""directory, preferences, the bell, held notifications, device tokens, push deliveries

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _now():
    return sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "directory_users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(32)), nullable=False, server_default="{}"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("timezone", sa.String(64)),
        sa.Column("supervisor_user_id", sa.String(64)),
        sa.Column("changed_at", TZ, nullable=False),
        _now(),
    )
    op.create_index("ix_directory_users_org_active", "directory_users", ["organization_id"],
                    postgresql_where=sa.text("active"))
    op.create_index("ix_directory_users_supervisor", "directory_users", ["supervisor_user_id"])
    op.create_table(
        "care_team_members",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("changed_at", TZ, nullable=False),
        _now(),
    )
    op.create_index("ix_care_team_members_user", "care_team_members", ["user_id", "patient_id"],
                    postgresql_where=sa.text("active"))
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("push_enabled", sa.Boolean, nullable=False),
        sa.Column("email_enabled", sa.Boolean, nullable=False),
        sa.Column("enabled_types", postgresql.ARRAY(sa.String(64)), nullable=False),
        sa.Column("min_push_priority", sa.String(8), nullable=False),
        sa.Column("quiet_hours_start", sa.Time),
        sa.Column("quiet_hours_end", sa.Time),
        sa.Column("timezone", sa.String(64)),
        _now(),
    )
    op.create_table(
        "user_notifications",
        sa.Column("notification_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("patient_id", sa.String(64)),
        sa.Column("resource_type", sa.String(64)),
        sa.Column("resource_id", sa.String(128)),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", TZ),
        sa.Column("push_status", sa.String(16), nullable=False, server_default="none"),
        sa.Column("pushed_at", TZ),
    )
    op.create_index("ix_user_notifications_user_time", "user_notifications",
                    ["user_id", sa.text("created_at DESC"), sa.text("notification_id DESC")])
    op.create_index("ix_user_notifications_unread", "user_notifications",
                    ["user_id", sa.text("created_at DESC")], postgresql_where=sa.text("read_at IS NULL"))
    op.create_table(
        "held_notifications",
        sa.Column("notification_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("patient_id", sa.String(64)),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("release_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("released_at", TZ),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("ix_held_notifications_due", "held_notifications", ["release_at"],
                    postgresql_where=sa.text("released_at IS NULL"))
    op.create_table(
        "device_tokens",
        sa.Column("token", sa.String(4096), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_seen_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("failure_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retired_at", TZ),
        sa.Column("retired_reason", sa.String(64)),
    )
    op.create_index("ix_device_tokens_user_active", "device_tokens", ["user_id", sa.text("last_seen_at DESC")],
                    postgresql_where=sa.text("retired_at IS NULL"))
    op.create_table(
        "push_deliveries",
        sa.Column("notification_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("token", sa.String(4096), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fcm_message_id", sa.String(256)),
        sa.Column("error_code", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    for table in ("push_deliveries", "device_tokens", "held_notifications", "user_notifications",
                  "notification_preferences", "care_team_members", "directory_users"):
        op.drop_table(table)
