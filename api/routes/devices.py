"""``POST /v1/devices`` (register or refresh a push token), ``DELETE /v1/devices/{token}`` (logout).

A token another user holds is never moved silently: only with the installation id the app sent when
it first registered the token (proof that the caller holds that device), only within one organization,
and the move is recorded (docs/decisions/0141-device-ownership.md).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response

from api.deps import CurrentUser, DatabaseDep
from api.errors import not_found
from api.schemas import BODY_RESPONSES, TOKEN_PATTERN, Device, DeviceRegistration, Problem
from processors.visibility import Viewer
from sinks.postgres.tokens import Claim, claim_token, moved_away, unbind_token

router = APIRouter(prefix="/v1/devices", tags=["devices"])
Token = Annotated[str, Path(min_length=1, max_length=4096, pattern=TOKEN_PATTERN)]
log = logging.getLogger("herald.api.devices")
HELD = (
    "this device token is registered to another user; sign them out on the device, or register with the "
    "installation_id the app sent when it first registered this token"
)
MOVED = "this device was registered by another user of your organization since; it no longer gets your pushes"
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": Problem,
        "description": "The token is another user's (POST), or was moved to another user since (DELETE).",
    }
}


@router.post("", response_model=Device, responses=BODY_RESPONSES | CONFLICT)
async def register_device(body: DeviceRegistration, db: DatabaseDep, viewer: CurrentUser) -> Device:
    """Idempotent for the caller's own token. A token another user of the organization holds moves to the
    caller only with the matching ``installation_id``; 409 otherwise (and always across organizations)."""
    result = await db.run(_claim, viewer=viewer, body=body)
    if result.outcome in (Claim.HELD_BY_ANOTHER_USER, Claim.HELD_IN_ANOTHER_ORGANIZATION):
        log.warning("device registration refused: %s", result.outcome.value)
        raise HTTPException(409, HELD)
    if result.outcome is Claim.MOVED:
        log.info("device token moved to another user of the organization with proof of possession")
    return Device(token=body.token, platform=body.platform, last_seen_at=result.last_seen_at)


@router.delete("/{token}", status_code=204, response_class=Response, responses=CONFLICT)
async def unbind_device(token: Token, db: DatabaseDep, viewer: CurrentUser) -> Response:
    """Stops pushes to this device; idempotent for the caller's own token; 409 when it was moved to another
    user since (who now gets their pushes on it); 404 for any other."""
    outcome = await db.run(_unbind, viewer=viewer, token=token)
    if outcome == "moved":
        raise HTTPException(409, MOVED)
    if outcome == "unknown":
        raise not_found("device")
    return Response(status_code=204)


def _claim(*, session, viewer: Viewer, body: DeviceRegistration):
    return claim_token(
        session,
        token=body.token,
        user_id=viewer.user_id,
        organization_id=viewer.organization_id,
        platform=body.platform,
        installation_id=body.installation_id,
    )


def _unbind(*, session, viewer: Viewer, token: str) -> str:
    if unbind_token(session, token=token, user_id=viewer.user_id):
        return "unbound"
    return "moved" if moved_away(session, token=token, user_id=viewer.user_id) else "unknown"
