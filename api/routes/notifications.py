"""The bell: ``/v1/notifications`` list, unread count, read, read-all; an alert's acknowledge and decline."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query

from api import alerts_queries, queries
from api.alert_schemas import AcknowledgementOut
from api.alerts_queries import Action, Refusal
from api.deps import CurrentUser, DatabaseDep, Facts, PageDep, WindowsDep
from api.errors import not_found
from api.metrics import ALERT_ACKNOWLEDGED
from api.schemas import (
    BODY_RESPONSES,
    NotificationPage,
    Problem,
    ReadAllRequest,
    ReadAllResult,
    ReadReceipt,
    UnreadCount,
)

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage)
async def list_notifications(
    db: DatabaseDep,
    windows: WindowsDep,
    viewer: CurrentUser,
    facts: Facts,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only unread ones.")] = False,
    awaiting_acknowledgement: Annotated[
        bool, Query(description="Only alert notifications still awaiting the caller's acknowledgement.")
    ] = False,
) -> NotificationPage:
    """Newest first, with the unread count of the same snapshot (of the whole bell, whatever the filters);
    entries of events older than retention keeps the organization's bell are left out of both."""
    rows, counted = await db.run(
        queries.select_notifications,
        viewer=viewer,
        facts=facts,
        unread_only=unread,
        awaiting_only=awaiting_acknowledgement,
        after=page.after,
        limit=page.limit + 1,
        bell_since=windows.bell_since(viewer.organization_id),
    )
    return NotificationPage.of(rows, page.limit, counted)


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(db: DatabaseDep, viewer: CurrentUser, windows: WindowsDep) -> UnreadCount:
    """Exact up to the cap; beyond it the bell shows "999+". Counts the entries the bell shows."""
    bell_since = windows.bell_since(viewer.organization_id)
    return UnreadCount.of(await db.run(queries.count_unread, viewer=viewer, bell_since=bell_since))


@router.post("/{notification_id}/read", response_model=ReadReceipt)
async def read_one(notification_id: uuid.UUID, db: DatabaseDep, viewer: CurrentUser) -> ReadReceipt:
    """Idempotent: a second call keeps the first read time. 404 for an id that is not the caller's."""
    read_at = await db.run(queries.mark_read, viewer=viewer, notification_id=notification_id)
    if read_at is None:
        raise not_found("notification")
    return ReadReceipt(notification_id=notification_id, read_at=read_at)


@router.post("/read-all", response_model=ReadAllResult, responses=BODY_RESPONSES)
async def read_all(
    db: DatabaseDep, viewer: CurrentUser, body: Annotated[ReadAllRequest | None, Body()] = None
) -> ReadAllResult:
    """Marks every unread notification, or those up to and including ``up_to`` (what the client saw)."""
    marked = await db.run(queries.mark_all_read, viewer=viewer, up_to=body.up_to if body else None)
    if marked is None:
        raise not_found("notification")
    return ReadAllResult(marked=marked)


ANSWER_RESPONSES: dict[int | str, dict] = {
    409: {
        "model": Problem,
        "description": "The notification does not ask for an acknowledgement, or (decline) it was acknowledged.",
    }
}


@router.post("/{notification_id}/acknowledge", response_model=AcknowledgementOut, responses=ANSWER_RESPONSES)
async def acknowledge(notification_id: uuid.UUID, db: DatabaseDep, viewer: CurrentUser) -> AcknowledgementOut:
    """Acknowledges an alert notification of the caller's: the alert ends when its policy says so, and no
    later step fires. Idempotent (a repeat keeps the first time). Also after the alert was closed, which
    is recorded (a late acknowledgement of an exhausted alert ends it as acknowledged)."""
    return _answered(
        await db.run(alerts_queries.answer, viewer=viewer, notification_id=notification_id, action=Action.ACKNOWLEDGE)
    )


@router.post("/{notification_id}/decline", response_model=AcknowledgementOut, responses=ANSWER_RESPONSES)
async def decline(notification_id: uuid.UUID, db: DatabaseDep, viewer: CurrentUser) -> AcknowledgementOut:
    """Declines an alert notification of the caller's (cannot take it): unless the policy acknowledges
    each recipient, the next escalation step fires at once. Idempotent; 409 once acknowledged."""
    return _answered(
        await db.run(alerts_queries.answer, viewer=viewer, notification_id=notification_id, action=Action.DECLINE)
    )


def _answered(result: alerts_queries.Answer | Refusal | None) -> AcknowledgementOut:
    if result is None:
        raise not_found("notification")
    if isinstance(result, Refusal):
        raise HTTPException(409, result.value)
    if result.ended_at is not None:
        ALERT_ACKNOWLEDGED.labels(result.event_type).observe((result.ended_at - result.occurred_at).total_seconds())
    return AcknowledgementOut.of(result)
