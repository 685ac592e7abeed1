"""The bell: ``/v1/notifications`` list, unread count, read, read-all."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from api import queries
from api.deps import CurrentUser, DatabaseDep, Facts, PageDep
from api.errors import not_found
from api.schemas import BODY_RESPONSES, NotificationPage, ReadAllRequest, ReadAllResult, ReadReceipt, UnreadCount

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage)
async def list_notifications(
    db: DatabaseDep,
    viewer: CurrentUser,
    facts: Facts,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only unread ones.")] = False,
) -> NotificationPage:
    """Newest first, with the unread count of the same snapshot."""
    rows, counted = await db.run(
        queries.select_notifications,
        viewer=viewer,
        facts=facts,
        unread_only=unread,
        after=page.after,
        limit=page.limit + 1,
    )
    return NotificationPage.of(rows, page.limit, counted)


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(db: DatabaseDep, viewer: CurrentUser) -> UnreadCount:
    """Exact up to the cap; beyond it the bell shows "999+"."""
    return UnreadCount.of(await db.run(queries.count_unread, viewer=viewer))


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
