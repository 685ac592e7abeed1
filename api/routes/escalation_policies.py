"""``/v1/escalation-policies``: which event types need an acknowledgement in the caller's organization,
and who each step alerts. Any member may read them; only an administrator may change them.

A change applies to alerts raised after it: a running alert keeps the policy it was raised with.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response

from api import policy_queries
from api.alert_schemas import PolicyBody, PolicyList, PolicyOut, effective_policies, override_out
from api.deps import CurrentUser, DatabaseDep
from api.errors import FieldInvalid
from api.schemas import BODY_RESPONSES
from processors.catalogue import ADMIN_ROLES, CATALOGUE
from processors.visibility import Viewer

router = APIRouter(prefix="/v1/escalation-policies", tags=["escalation policies"])
EventTypeName = Annotated[
    str, Path(description="An event type of the catalogue.", json_schema_extra={"enum": sorted(CATALOGUE)})
]


def _administrator(viewer: Viewer, event_type: str) -> None:
    if event_type not in CATALOGUE:
        raise FieldInvalid("event_type", "not an event type of the catalogue")
    if not viewer.roles & ADMIN_ROLES:
        raise HTTPException(403, "only an administrator may change escalation policies")


@router.get("", response_model=PolicyList)
async def list_policies(db: DatabaseDep, viewer: CurrentUser) -> PolicyList:
    """The policy in force for every event type that has one: the organization's override, or Herald's
    default. An override with no steps (acknowledgement off) is listed too."""
    return effective_policies(await db.run(policy_queries.select_overrides, viewer=viewer))


@router.put("/{event_type}", response_model=PolicyOut, responses=BODY_RESPONSES)
async def put_policy(event_type: EventTypeName, body: PolicyBody, db: DatabaseDep, viewer: CurrentUser) -> PolicyOut:
    """Replaces the organization's policy for the type; ``{"steps": []}`` turns acknowledgement off."""
    _administrator(viewer, event_type)
    row = await db.run(
        policy_queries.upsert_override, viewer=viewer, event_type=event_type, policy=body.policy().to_json()
    )
    return override_out(row)


@router.delete("/{event_type}", status_code=204, response_class=Response)
async def delete_policy(event_type: EventTypeName, db: DatabaseDep, viewer: CurrentUser) -> Response:
    """Back to Herald's default for the type (none: no acknowledgement). Idempotent."""
    _administrator(viewer, event_type)
    await db.run(policy_queries.delete_override, viewer=viewer, event_type=event_type)
    return Response(status_code=204)
