"""The bell: ``/v1/notifications`` list, unread count, read, read-all."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query

from api import queries
from api.deps import CurrentUser, Facts, PageDep, SessionDep
from api.errors import not_found
from api.schemas import BODY_RESPONSES, NotificationPage, ReadAllRequest, ReadAllResult, ReadReceipt, UnreadCount

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage)
def list_notifications(session: SessionDep, viewer: CurrentUser, facts: Facts, page: PageDep,
                       unread: Annotated[bool, Query(description="Only unread ones.")] = False) -> NotificationPage:
    """Newest first, with the unread count of the same snapshot."""
    rows, counted = queries.select_notifications(session=session, viewer=viewer, facts=facts, unread_only=unread,
                                                 after=page.after, limit=page.limit + 1)
    return NotificationPage.of(rows, page.limit, counted)


@router.get("/unread-count", response_model=UnreadCount)
def unread_count(session: SessionDep, viewer: CurrentUser) -> UnreadCount:
    """Exact up to the cap; beyond it the bell shows "999+"."""
    return UnreadCount.of(queries.count_unread(session=session, viewer=viewer))


@router.post("/{notification_id}/read", response_model=ReadReceipt)
def read_one(notification_id: uuid.UUID, session: SessionDep, viewer: CurrentUser) -> ReadReceipt:
    """Idempotent: a second call keeps the first read time. 404 for an id that is not the caller's."""
    read_at = queries.mark_read(session=session, viewer=viewer, notification_id=notification_id)
    if read_at is None:
        raise not_found("notification")
    session.commit()
    return ReadReceipt(notification_id=notification_id, read_at=read_at)


@router.post("/read-all", response_model=ReadAllResult, responses=BODY_RESPONSES)
def read_all(session: SessionDep, viewer: CurrentUser,
             body: Annotated[ReadAllRequest | None, Body()] = None) -> ReadAllResult:
    """Marks every unread notification, or those up to and including ``up_to`` (what the client saw)."""
    marked = queries.mark_all_read(session=session, viewer=viewer, up_to=body.up_to if body else None)
    if marked is None:
        raise not_found("notification")
    session.commit()
    return ReadAllResult(marked=marked)
