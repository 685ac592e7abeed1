"""The notifications a plan makes: a bell row (with what became of its push) and a held push.

Named tuples, not dataclasses: an announcement plans 10,000 of them, and the Postgres sink unpacks them
straight into COPY rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from processors.catalogue import RecipientRule
from processors.notifications.decisions import PushAction
from streams.messages import ActivityEvent, Priority


class BellNotification(NamedTuple):
    """One notification in a user's bell; ``push`` says what became of its push (a named tuple: an
    announcement plans 10,000 of them)."""

    notification_id: uuid.UUID
    user_id: str
    reason: RecipientRule
    push: PushAction
    event: ActivityEvent
    priority: Priority  # the event's effective priority
    alert_step: int | None = None  # the escalation step that notified, for a notification awaiting acknowledgement


class HeldNotification(NamedTuple):
    """A push held for quiet hours until ``release_at`` (its bell notification is planned too)."""

    notification_id: uuid.UUID
    user_id: str
    reason: RecipientRule
    event: ActivityEvent
    priority: Priority
    release_at: datetime
