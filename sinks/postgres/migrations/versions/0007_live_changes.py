"""Live updates: live_changes (the change log the API streams from), its triggers, live_horizon

``live_changes`` gets one row per bell row inserted (``notification``), per bell row read, acknowledged
or declined (``notification-updated``) and per activity event inserted (``feed-item``), written by the
triggers below in the writer's own transaction and stamped with its transaction id (``xid``). The API
reads it in windows below the oldest transaction of this database still running, which only finished
transactions are under, so a row that commits after a later-numbered one is still read exactly once
(docs/decisions/0200-live-updates-change-cursor.md). Each trigger also ``pg_notify('herald_live')``
once per statement, which wakes the API's poller, unless ``herald.live_notify`` is ``off`` (``ALTER
DATABASE … SET herald.live_notify = off``): a notifying commit holds a server-wide lock until its WAL
is flushed, so where commits must share flushes the API polls instead (``HERALD_API_STREAM_POLL_S``).

Inserts use statement-level triggers with transition tables: the fan-out and the persister COPY
thousands of rows per statement, and one INSERT … SELECT per statement costs far less than a function
call per row. The update trigger is row-level with a WHEN clause on the three columns: Postgres allows
no column list on a trigger with transition tables, and a row-level WHEN costs nothing to the push
sender's status updates, which never call the function.

``live_horizon`` (one row) is the oldest transaction id whose changes are still kept: the API prunes
rows past its replay window and moves the horizon in the same transaction, so a Last-Event-ID below
it is answered with a reset. ``live_marks`` notes, once a minute, the oldest running transaction and
when: the pruning boundary is the newest mark older than the replay window.

Revision ID: 0007_live_changes
Revises: 0006_alerts
"""

from alembic import op

revision = "0007_live_changes"
down_revision = "0006_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE live_changes (
            xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            seq bigint GENERATED ALWAYS AS IDENTITY,
            kind varchar(24) NOT NULL,
            organization_id varchar(64) NOT NULL,
            user_id varchar(64),
            item_id uuid NOT NULL,
            at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (xid, seq)
        )"""
    )
    # A reconnecting client replays its own rows since its cursor: one index range per user / organization.
    op.execute("CREATE INDEX ix_live_changes_user ON live_changes (user_id, xid, seq) WHERE user_id IS NOT NULL")
    op.execute("CREATE INDEX ix_live_changes_feed ON live_changes (organization_id, xid, seq) WHERE kind = 'feed-item'")
    op.execute(
        """
        CREATE TABLE live_horizon (
            id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
            xid xid8 NOT NULL,
            pruned_at timestamptz NOT NULL DEFAULT now()
        )"""
    )
    op.execute("INSERT INTO live_horizon (xid) VALUES (pg_snapshot_xmin(pg_current_snapshot()))")
    # The oldest running transaction, noted once a minute by each API process: the horizon moves to the
    # newest mark older than the replay window, so every pruned row committed before that window began.
    op.execute("CREATE TABLE live_marks (at timestamptz PRIMARY KEY DEFAULT clock_timestamp(), xid xid8 NOT NULL)")
    op.execute(
        """
        CREATE FUNCTION live_bell_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO live_changes (kind, organization_id, user_id, item_id)
            SELECT 'notification', organization_id, user_id, notification_id FROM new_rows;
            IF FOUND AND current_setting('herald.live_notify', true) IS DISTINCT FROM 'off' THEN
                PERFORM pg_notify('herald_live', '');
            END IF;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """
        CREATE TRIGGER live_bell_inserted AFTER INSERT ON user_notifications
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_bell_inserted()"""
    )
    op.execute(
        """
        CREATE FUNCTION live_bell_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO live_changes (kind, organization_id, user_id, item_id)
            VALUES ('notification-updated', NEW.organization_id, NEW.user_id, NEW.notification_id);
            IF current_setting('herald.live_notify', true) IS DISTINCT FROM 'off' THEN
                PERFORM pg_notify('herald_live', '');
            END IF;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """
        CREATE TRIGGER live_bell_updated AFTER UPDATE ON user_notifications FOR EACH ROW
        WHEN (OLD.read_at IS DISTINCT FROM NEW.read_at
              OR OLD.acknowledged_at IS DISTINCT FROM NEW.acknowledged_at
              OR OLD.declined_at IS DISTINCT FROM NEW.declined_at)
        EXECUTE FUNCTION live_bell_updated()"""
    )
    op.execute(
        """
        CREATE FUNCTION live_feed_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO live_changes (kind, organization_id, item_id)
            SELECT 'feed-item', organization_id, event_id FROM new_rows;
            IF FOUND AND current_setting('herald.live_notify', true) IS DISTINCT FROM 'off' THEN
                PERFORM pg_notify('herald_live', '');
            END IF;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """
        CREATE TRIGGER live_feed_inserted AFTER INSERT ON activity_events
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_feed_inserted()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER live_feed_inserted ON activity_events")
    op.execute("DROP TRIGGER live_bell_updated ON user_notifications")
    op.execute("DROP TRIGGER live_bell_inserted ON user_notifications")
    for function in ("live_feed_inserted", "live_bell_updated", "live_bell_inserted"):
        op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("live_marks")
    op.drop_table("live_horizon")
    op.drop_table("live_changes")
