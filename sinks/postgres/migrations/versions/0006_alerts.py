"""Urgent alerts: escalation_policies, alerts, alert_steps, alert_log; acknowledgement on the bell

``escalation_policies`` holds an organization's override of a type's escalation policy (JSON, as
``processors.notifications.escalation_policy`` parses it). ``alerts`` is one row per event that needs
acknowledgement, with the policy it follows copied in, so an edit never changes a running alert.
``alert_steps`` is the alerts' timers: one row per step fired or due (step = number of steps is the
exhaustion check); the escalator claims due rows with FOR UPDATE SKIP LOCKED on their alert.
``alert_log`` is the history: skips, acknowledgements, declines, exhaustion (who was notified is in
``user_notifications``, whose rows gain the step that notified and the recipient's answer).

Revision ID: 0006_alerts
Revises: 0005_device_ownership
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_alerts"
down_revision = "0005_device_ownership"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "escalation_policies",
        sa.Column("organization_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(64), primary_key=True),
        sa.Column("policy", postgresql.JSONB, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "alerts",
        sa.Column("event_id", UUID, primary_key=True),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("patient_id", sa.String(64)),
        sa.Column("actor_user_id", sa.String(64)),
        sa.Column("practitioner_user_id", sa.String(64)),
        sa.Column("resource_type", sa.String(64)),
        sa.Column("resource_id", sa.String(128)),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("raised_at", TZ, nullable=False),
        sa.Column("policy", postgresql.JSONB, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("latest_step", sa.Integer, nullable=False, server_default="0"),
        sa.Column("closed_at", TZ),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("first_accepted_at", TZ),
    )
    op.create_index("ix_alerts_open", "alerts", ["raised_at"], postgresql_where=sa.text("state = 'open'"))
    op.create_index("ix_alerts_org_time", "alerts", ["organization_id", "raised_at"])
    op.create_table(
        "alert_steps",
        sa.Column("event_id", UUID, primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("fired_at", TZ),
        sa.Column("cancelled_at", TZ),
        sa.Column("notified", sa.Integer, nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_alert_steps_due",
        "alert_steps",
        ["due_at"],
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )
    op.create_table(
        "alert_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(32)),
        sa.Column("at", TZ, nullable=False),
    )
    # One entry per (alert, step, user, action): a step redone after a crash records nothing twice.
    op.create_index(
        "ux_alert_log_entry",
        "alert_log",
        ["event_id", "step", "user_id", "action"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.add_column("user_notifications", sa.Column("alert_step", sa.Integer))
    op.add_column("user_notifications", sa.Column("acknowledged_at", TZ))
    op.add_column("user_notifications", sa.Column("declined_at", TZ))
    op.create_index("ix_user_notifications_alert", "user_notifications", ["event_id"], postgresql_where=sa.text("alert_step IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_user_notifications_alert", "user_notifications")
    for column in ("declined_at", "acknowledged_at", "alert_step"):
        op.drop_column("user_notifications", column)
    for table in ("alert_log", "alert_steps", "alerts", "escalation_policies"):
        op.drop_table(table)
