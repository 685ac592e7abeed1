"""SQLAlchemy 2 models of Herald's tables; Alembic migrations are written from these by hand."""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import time as dt_time

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType


class Base(DeclarativeBase):
    pass


class ActivityEventRow(Base):
    """Every event, once (PK event_id, occurred_at): the activity feed and patient timelines read it.
    Partitioned by month of occurred_at (migration 0009); the event's own time is in the key so that a
    redelivery meets its first copy in the same partition (docs/decisions/0230-partition-key-is-the-event-time.md)."""

    __tablename__ = "activity_events"

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    encounter_id: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(128))
    practitioner_user_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    notify: Mapped[bool] = mapped_column(Boolean)
    visibility: Mapped[str | None] = mapped_column(String(32))
    attributes: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    source: Mapped[str] = mapped_column(String(64), server_default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    notification_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_activity_events_org_time", "organization_id", text("occurred_at DESC"), text("event_id DESC")),
        Index("ix_activity_events_patient_time_id", "patient_id", text("occurred_at DESC"), text("event_id DESC")),
        Index(
            "ix_activity_events_unsent", "occurred_at", postgresql_where=text("notify AND notification_sent_at IS NULL")
        ),
    )


_TZ = DateTime(timezone=True)


class DirectoryUserRow(Base):
    """A user as the directory topic last described them."""

    __tablename__ = "directory_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    active: Mapped[bool] = mapped_column(Boolean)
    timezone: Mapped[str | None] = mapped_column(String(64))
    supervisor_user_id: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(_TZ)
    updated_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())


class CareTeamMemberRow(Base):
    """A user on a patient's care team."""

    __tablename__ = "care_team_members"

    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(_TZ)
    updated_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())


class NotificationPreferencesRow(Base):
    """A user's stored preferences; no row means the defaults of ``processors.notifications.preferences``."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    push_enabled: Mapped[bool] = mapped_column(Boolean)
    email_enabled: Mapped[bool] = mapped_column(Boolean)
    enabled_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    min_push_priority: Mapped[str] = mapped_column(String(8))
    quiet_hours_start: Mapped[dt_time | None] = mapped_column(Time)
    quiet_hours_end: Mapped[dt_time | None] = mapped_column(Time)
    timezone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())


class UserNotificationRow(Base):
    """One bell entry: PK (uuid5(event_id, user_id), the event's occurred_at), so a redelivered event never
    adds a second; partitioned by month of the event's occurred_at, not of created_at (migration 0009)."""

    __tablename__ = "user_notifications"

    notification_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(_TZ, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(_TZ)
    push_status: Mapped[str] = mapped_column(String(16), server_default="none")
    pushed_at: Mapped[datetime | None] = mapped_column(_TZ)
    alert_step: Mapped[int | None] = mapped_column(Integer)  # set on an alert's notifications (migration 0006)
    acknowledged_at: Mapped[datetime | None] = mapped_column(_TZ)
    declined_at: Mapped[datetime | None] = mapped_column(_TZ)
    opened_at: Mapped[datetime | None] = mapped_column(_TZ)  # the user tapped the push (migration 0008)


class HeldNotificationRow(Base):
    """A push held by quiet hours until ``release_at``; the scheduler releases it in a digest."""

    __tablename__ = "held_notifications"

    notification_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(_TZ)
    release_at: Mapped[datetime] = mapped_column(_TZ)
    created_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(_TZ)
    outcome: Mapped[str | None] = mapped_column(String(16))


class DeviceTokenRow(Base):
    """An FCM registration token of one user's device."""

    __tablename__ = "device_tokens"

    token: Mapped[str] = mapped_column(String(4096), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())
    failure_count: Mapped[int] = mapped_column(Integer, server_default="0")
    retired_at: Mapped[datetime | None] = mapped_column(_TZ)
    retired_reason: Mapped[str | None] = mapped_column(String(64))


class PushDeliveryRow(Base):
    """What happened to one (notification, token) push; the sender's de-duplication key. Partitioned by
    month of the push request's occurred_at, which is in the key (migration 0010; decision 0230)."""

    __tablename__ = "push_deliveries"

    notification_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    token: Mapped[str] = mapped_column(String(4096), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    fcm_message_id: Mapped[str | None] = mapped_column(String(256))
    error_code: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())
    occurred_at: Mapped[datetime] = mapped_column(_TZ, primary_key=True, server_default=text("'-infinity'"))


class PushRetryRow(Base):
    """A push waiting for its next attempt (migration 0004): the encoded PushRequest and when it is due."""

    __tablename__ = "push_retries"

    notification_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(_TZ, index=True)
    first_failed_at: Mapped[datetime] = mapped_column(_TZ)
    last_error: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    record_value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())


class EscalationPolicyRow(Base):
    """An organization's override of one event type's escalation policy (migration 0006)."""

    __tablename__ = "escalation_policies"

    organization_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy: Mapped[dict] = mapped_column(JSONB)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())


class AlertRow(Base):
    """An event that needs acknowledgement, with the policy it follows and where it stands."""

    __tablename__ = "alerts"

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    actor_user_id: Mapped[str | None] = mapped_column(String(64))
    practitioner_user_id: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(_TZ)
    raised_at: Mapped[datetime] = mapped_column(_TZ)
    policy: Mapped[dict] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16), server_default="open")
    latest_step: Mapped[int] = mapped_column(Integer, server_default="0")
    closed_at: Mapped[datetime | None] = mapped_column(_TZ)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    first_accepted_at: Mapped[datetime | None] = mapped_column(_TZ)


class AlertStepRow(Base):
    """An alert's timer: a step fired or due; step = number of steps is the exhaustion check."""

    __tablename__ = "alert_steps"

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_at: Mapped[datetime] = mapped_column(_TZ)
    fired_at: Mapped[datetime | None] = mapped_column(_TZ)
    cancelled_at: Mapped[datetime | None] = mapped_column(_TZ)
    notified: Mapped[int] = mapped_column(Integer, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, server_default="0")


class AlertLogRow(Base):
    """One entry of an alert's history: skipped, acknowledged, declined, exhausted."""

    __tablename__ = "alert_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    step: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(_TZ)


class Xid8(UserDefinedType):
    """Postgres's 64-bit transaction id (``pg_current_xact_id()``); read as an int through its text form."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "xid8"


class LiveChangeRow(Base):
    """A change the API streams live (migration 0007, written by triggers): a bell row inserted or
    answered, an activity event inserted. ``xid`` is the writing transaction's id; the API reads rows
    below the oldest running transaction, so each row is read exactly once (decision 0200)."""

    __tablename__ = "live_changes"

    xid: Mapped[int] = mapped_column(Xid8(), primary_key=True, server_default=text("pg_current_xact_id()"))
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # notification | notification-updated | feed-item
    organization_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))  # the bell's recipient; null for feed-item
    item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))  # notification_id, or event_id for feed-item
    at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())

    __table_args__ = (
        Index("ix_live_changes_user", "user_id", "xid", "seq", postgresql_where=text("user_id IS NOT NULL")),
        Index("ix_live_changes_feed", "organization_id", "xid", "seq", postgresql_where=text("kind = 'feed-item'")),
    )


class LiveHorizonRow(Base):
    """One row: changes of transactions below ``xid`` were pruned (past the API's replay window)."""

    __tablename__ = "live_horizon"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="1")
    xid: Mapped[int] = mapped_column(Xid8())
    pruned_at: Mapped[datetime] = mapped_column(_TZ, server_default=func.now())


class LiveMarkRow(Base):
    """The oldest running transaction at ``at``, noted by the API once a minute: where to prune."""

    __tablename__ = "live_marks"

    at: Mapped[datetime] = mapped_column(_TZ, primary_key=True, server_default=text("clock_timestamp()"))
    xid: Mapped[int] = mapped_column(Xid8())
