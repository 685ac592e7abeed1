"""Bodies of the receipt routes: a notification's open receipt and an organization's summary."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class OpenReceipt(BaseModel):
    notification_id: uuid.UUID
    opened_at: datetime = Field(description="The first open; a repeat keeps it.")
    read_at: datetime = Field(description="Opening marks an unread notification read; an earlier read_at stays.")


class EventTypeReceipts(BaseModel):
    event_type: str
    notifications: int = Field(description="Bell notifications created in the window.")
    pushed: int = Field(description="Of those, sent to FCM for at least one device.")
    accepted: int = Field(description="Of those, accepted by FCM for at least one device.")
    opened: int = Field(description="Of the notifications, opened by their recipient (so far).")
    devices_pushed: int = Field(description="(notification, device) sends, whatever FCM answered.")
    devices_accepted: int = Field(description="(notification, device) sends FCM accepted.")
    median_open_seconds: float | None = Field(
        description="Median time from the accepted push (else the notification's creation) to the open; "
        "null when none was opened."
    )


class ReceiptsSummary(BaseModel):
    since: datetime
    until: datetime
    event_types: list[EventTypeReceipts]

    @classmethod
    def of(cls, since: datetime, until: datetime, rows) -> ReceiptsSummary:
        return cls(since=since, until=until, event_types=[EventTypeReceipts(**row._asdict()) for row in rows])
