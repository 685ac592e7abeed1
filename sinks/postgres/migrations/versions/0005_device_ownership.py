"""device_tokens ownership: organization and installation hash; device_token_moves

A push token moves to another user only with proof that the caller holds the device: the hash of
the installation id the app generated at its first registration (docs/decisions/0141-device-ownership.md).
``organization_id`` is the organization the token was registered in (a move never crosses it; NULL
for rows registered before, whose owner's directory row says). ``device_token_moves`` records every
move (hashed token, from, to, when), so the previous owner is told why their sign-out finds nothing.

Revision ID: 0005_device_ownership
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_device_ownership"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("device_tokens", sa.Column("organization_id", sa.String(64)))
    op.add_column("device_tokens", sa.Column("installation_hash", sa.LargeBinary))
    op.create_table(
        "device_token_moves",
        sa.Column("token_sha256", sa.LargeBinary, nullable=False),
        sa.Column("from_user_id", sa.String(64), nullable=False),
        sa.Column("to_user_id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("moved_at", TZ, nullable=False),
    )
    op.create_index("ix_device_token_moves_from", "device_token_moves", ["token_sha256", "from_user_id"])


def downgrade() -> None:
    op.drop_table("device_token_moves")
    op.drop_column("device_tokens", "installation_hash")
    op.drop_column("device_tokens", "organization_id")
