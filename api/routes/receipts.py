"""Receipts: the app reports that its user opened a notification (tapped the push), and an
organization's administrators read, per event type, how many were pushed, accepted by FCM and opened.

Opening marks an unread notification read (docs/decisions/0206-opening-marks-read.md): the user has
seen it, and a bell still showing it unread would contradict the phone they just tapped.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api import receipts_queries
from api.deps import _DATE_TIME, CurrentUser, DatabaseDep, DateTimeParam, _utc
from api.errors import not_found
from api.metrics import OPEN_SECONDS, OPENED
from api.receipt_schemas import OpenReceipt, ReceiptsSummary
from api.receipts import Window
from processors.catalogue import ADMIN_ROLES, CATALOGUE

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("/receipts", response_model=ReceiptsSummary)
async def receipts(
    db: DatabaseDep,
    viewer: CurrentUser,
    since: Annotated[
        DateTimeParam | None,
        Query(
            description="created_at >= since (ISO 8601; naive = UTC); default: until - 7 days; at most 92 days "
            "before until (an earlier one is moved up: the answer states its window)",
            json_schema_extra=_DATE_TIME,
        ),
    ] = None,
    until: Annotated[
        DateTimeParam | None,
        Query(description="created_at < until (ISO 8601; naive = UTC); default: now", json_schema_extra=_DATE_TIME),
    ] = None,
) -> ReceiptsSummary:
    """Per event type, of the organization's notifications created in the window: pushed, accepted by
    FCM, opened, and the median time to open. Administrators only (403). A reversed window is empty."""
    if not viewer.roles & ADMIN_ROLES:
        raise HTTPException(403, "only an administrator may read the organization's receipts")
    window = Window.of(_utc(since, "since"), _utc(until, "until"), now=datetime.now(timezone.utc))
    rows = await db.run(receipts_queries.receipts_summary, viewer=viewer, window=window)
    return ReceiptsSummary.of(window.since, window.until, rows)


@router.post("/{notification_id}/opened", response_model=OpenReceipt)
async def opened(notification_id: uuid.UUID, db: DatabaseDep, viewer: CurrentUser) -> OpenReceipt:
    """The caller opened this notification of theirs (tapped its push). Idempotent: a repeat keeps the
    first open time. Marks it read if it was unread. 404 for an id that is not the caller's."""
    receipt = await db.run(receipts_queries.mark_opened, viewer=viewer, notification_id=notification_id)
    if receipt is None:
        raise not_found("notification")
    if receipt.first_seconds is not None:  # only the call that recorded the open: counted once
        label = receipt.event_type if receipt.event_type in CATALOGUE else "other"
        OPENED.labels(label).inc()
        OPEN_SECONDS.labels(label).observe(receipt.first_seconds)
    return OpenReceipt(notification_id=notification_id, opened_at=receipt.opened_at, read_at=receipt.read_at)
