"""``POST /v1/devices`` (register or refresh a push token), ``DELETE /v1/devices/{token}`` (logout)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import CurrentUser, DatabaseDep
from api.errors import not_found
from api.schemas import BODY_RESPONSES, Device, DeviceRegistration
from sinks.postgres.tokens import register_token, unbind_token

router = APIRouter(prefix="/v1/devices", tags=["devices"])
Token = Annotated[str, Path(min_length=1, max_length=4096, pattern=r"^[A-Za-z0-9_:\-\.]+$")]


@router.post("", response_model=Device, responses=BODY_RESPONSES)
async def register_device(body: DeviceRegistration, db: DatabaseDep, viewer: CurrentUser) -> Device:
    """Idempotent; a token registered by another user moves to the caller (one device, one user)."""
    seen = await db.run(lambda session: register_token(session, token=body.token, user_id=viewer.user_id,
                                                       platform=body.platform))
    return Device(token=body.token, platform=body.platform, last_seen_at=seen)


@router.delete("/{token}", status_code=204, response_class=Response)
async def unbind_device(token: Token, db: DatabaseDep, viewer: CurrentUser) -> Response:
    """Stops pushes to this device; idempotent for the caller's own token, 404 for any other."""
    if not await db.run(lambda session: unbind_token(session, token=token, user_id=viewer.user_id)):
        raise not_found("device")
    return Response(status_code=204)
