"""``GET /v1/alerts/{event_id}``: an urgent alert's history; ``.../communications``: the same as FHIR.

Who may see an alert: a recipient of any of its steps, the event's actor, or a supervisor of the
organization, and only when the feed would show them the event (its visibility and patient access).
Anyone else gets the 404 of an alert that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from api import alerts_queries
from api.alert_record import AlertRecord
from api.alert_schemas import AlertOut
from api.deps import CurrentUser, DatabaseDep, Facts
from api.errors import not_found
from api.fhir import communications_bundle
from processors.visibility import Viewer, ViewerFacts

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


class FhirJSONResponse(JSONResponse):
    media_type = "application/fhir+json"


class _Returned(Response):
    """The route returns its FhirJSONResponse itself; no media type here keeps FastAPI from documenting
    its 200 as ``application/json`` too, and errors stay documented as the API's JSON."""

    media_type = None


class FhirBundle(BaseModel):
    """A FHIR R4 Bundle (``type: collection``) of Communication resources: the alert's, then one per
    step and recipient, each ``partOf`` the alert's."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["Bundle"]
    type: Literal["collection"]
    entry: list[dict[str, Any]]


async def _record(db, viewer: Viewer, facts: ViewerFacts, event_id: uuid.UUID) -> AlertRecord:
    record = await db.run(alerts_queries.load_alert, viewer=viewer, facts=facts, event_id=event_id)
    if record is None:
        raise not_found("alert")
    return record


@router.get("/{event_id}", response_model=AlertOut)
async def get_alert(event_id: uuid.UUID, db: DatabaseDep, viewer: CurrentUser, facts: Facts) -> AlertOut:
    """The alert's state, policy, steps (who each notified, whether FCM accepted the push, their answer,
    who was skipped and why) and its history in order."""
    return AlertOut.of(await _record(db, viewer, facts, event_id))


# Only the 200 is FHIR's media type; errors are the API's JSON like everywhere else.
_FHIR_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A FHIR R4 Bundle of Communication resources.",
        "content": {FhirJSONResponse.media_type: {"schema": FhirBundle.model_json_schema()}},
    }
}


@router.get("/{event_id}/communications", response_class=_Returned, response_model=None, responses=_FHIR_OK)
async def get_alert_communications(
    event_id: uuid.UUID, db: DatabaseDep, viewer: CurrentUser, facts: Facts
) -> FhirJSONResponse:
    """The alert's history as FHIR R4 Communication resources (docs/decisions/0181)."""
    return FhirJSONResponse(communications_bundle(await _record(db, viewer, facts, event_id)))
