"""``GET /v1/feed``: the caller's organization's activity, as far as the caller may see it."""

from __future__ import annotations

from fastapi import APIRouter

from api import queries
from api.deps import CurrentUser, DatabaseDep, Facts, FeedFilterDep, PageDep, WindowsDep
from api.schemas import FeedPage

router = APIRouter(prefix="/v1", tags=["feed"])


@router.get("/feed", response_model=FeedPage)
async def get_feed(
    db: DatabaseDep, viewer: CurrentUser, facts: Facts, flt: FeedFilterDep, page: PageDep, windows: WindowsDep
) -> FeedPage:
    """Newest first, back as far as retention keeps the organization's events. Visibility (all members,
    clinical staff, actor and supervisors) and patient access (care team, or a role with
    organization-wide patient access) apply to every row."""
    rows = await db.run(
        queries.select_feed,
        viewer=viewer,
        facts=facts,
        flt=flt,
        limit=page.limit + 1,
        kept_since=windows.feed_since(viewer.organization_id),
    )
    return FeedPage.of(rows, page.limit)
