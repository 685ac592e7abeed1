"""Open receipts: when the recipient opened a notification, and an index for the receipts summary

``user_notifications.opened_at`` is set once, by the API, when the app reports that the user tapped the
push (``POST /v1/notifications/{id}/opened``); NULL means never opened. The summary of an organization's
receipts reads its notifications created in a time range, which no index served (the bell's indexes
lead with the user): ``ix_user_notifications_org_time`` is built CONCURRENTLY, so running this on a live
database does not block the fan-out's inserts.

Revision ID: 0008_opened_receipts
Revises: 0007_live_changes
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_opened_receipts"
down_revision = "0007_live_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_notifications", sa.Column("opened_at", sa.DateTime(timezone=True)))
    with op.get_context().autocommit_block():
        op.create_index("ix_user_notifications_org_time", "user_notifications", ["organization_id", "created_at"],
                        postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_user_notifications_org_time", table_name="user_notifications",
                      postgresql_concurrently=True, if_exists=True)
    op.drop_column("user_notifications", "opened_at")
