"""indexes of the read API: keyset order (time, id) for patient timelines and the unread bell

Both replace an index of 0002/0001 by one with the same leading columns plus the id tie-breaker, so
every query the old one served is still served, and a keyset page "(time, id) < (:t, :id) ORDER BY
time DESC, id DESC LIMIT n" is a single index range scan with no sort. The unread index also carries
organization_id, so the capped unread count is an index-only scan (13 buffers for 1,000 rows instead
of 1,000 heap visits). Built CONCURRENTLY, so running this on a live database does not block the
persister's or the fan-out's writes.

Revision ID: 0003
Revises: 0002
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# name, table, columns (names or expressions), partial-index predicate, included columns
Index = tuple[str, str, list[Any], Any, list[str]]

_NEW: tuple[Index, ...] = (
    ("ix_activity_events_patient_time_id", "activity_events",
     ["patient_id", sa.text("occurred_at DESC"), sa.text("event_id DESC")], None, []),
    ("ix_user_notifications_unread_id", "user_notifications",
     ["user_id", sa.text("created_at DESC"), sa.text("notification_id DESC")], sa.text("read_at IS NULL"),
     ["organization_id"]),
)
_OLD: tuple[Index, ...] = (
    ("ix_activity_events_patient_time", "activity_events", ["patient_id", sa.text("occurred_at DESC")], None, []),
    ("ix_user_notifications_unread", "user_notifications", ["user_id", sa.text("created_at DESC")],
     sa.text("read_at IS NULL"), []),
)


def _swap(create: tuple[Index, ...], drop: tuple[Index, ...]) -> None:
    with op.get_context().autocommit_block():
        for name, table, columns, where, include in create:
            op.create_index(name, table, columns, postgresql_where=where, postgresql_include=include,
                            postgresql_concurrently=True, if_not_exists=True)
        for name, table, *_ in drop:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)


def upgrade() -> None:
    _swap(_NEW, _OLD)


def downgrade() -> None:
    _swap(_OLD, _NEW)
