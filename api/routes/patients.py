"""``GET /v1/patients/{patient_id}/timeline``: one patient's activity, for those who may access them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api import queries
from api.deps import CurrentUser, DatabaseDep, Facts, FeedFilterDep, PageDep, WindowsDep
from api.errors import not_found
from api.schemas import PATIENT_ID_PATTERN, FeedPage
from processors.visibility import can_access_patient

router = APIRouter(prefix="/v1", tags=["patients"])
PatientId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=PATIENT_ID_PATTERN,
        description="Printable characters only (no control characters).",
    ),
]


@router.get("/patients/{patient_id}/timeline", response_model=FeedPage)
async def get_timeline(
    patient_id: PatientId,
    db: DatabaseDep,
    viewer: CurrentUser,
    facts: Facts,
    flt: FeedFilterDep,
    page: PageDep,
    windows: WindowsDep,
) -> FeedPage:
    """Back as far as retention keeps the organization's events. 404 for a patient the caller may not
    access, of another organization, or unknown (all alike)."""
    if not can_access_patient(patient_id, viewer, facts):
        raise not_found("patient")
    rows = await db.run(
        queries.select_timeline,
        viewer=viewer,
        facts=facts,
        flt=flt,
        limit=page.limit + 1,
        patient_id=patient_id,
        kept_since=windows.feed_since(viewer.organization_id),
    )
    if rows is None:
        raise not_found("patient")
    return FeedPage.of(rows, page.limit)
