"""``GET|PUT /v1/preferences``: the caller's notification preferences (defaults until first saved)."""

from __future__ import annotations

from fastapi import APIRouter

from api import queries
from api.deps import CurrentUser, DatabaseDep
from api.schemas import BODY_RESPONSES, PreferencesBody, PreferencesOut, hh_mm
from processors.notifications.preferences import default_preferences
from streams.messages import Priority

router = APIRouter(prefix="/v1", tags=["preferences"])


def _out(prefs, *, stored: bool) -> PreferencesOut:
    return PreferencesOut(
        push_enabled=prefs.push_enabled,
        email_enabled=prefs.email_enabled,
        enabled_types=sorted(prefs.enabled_types),
        min_push_priority=Priority(prefs.min_push_priority).value,
        quiet_hours_start=hh_mm(prefs.quiet_hours_start),
        quiet_hours_end=hh_mm(prefs.quiet_hours_end),
        timezone=prefs.timezone,
        stored=stored,
    )


@router.get("/preferences", response_model=PreferencesOut)
async def get_preferences(db: DatabaseDep, viewer: CurrentUser) -> PreferencesOut:
    """The stored preferences, or the defaults in the caller's directory time zone (``stored: false``)."""
    row, zone = await db.run(queries.preferences_or_zone, viewer=viewer)
    if row is not None:
        return _out(row, stored=True)
    return _out(default_preferences(zone), stored=False)


@router.put("/preferences", response_model=PreferencesOut, responses=BODY_RESPONSES)
async def put_preferences(body: PreferencesBody, db: DatabaseDep, viewer: CurrentUser) -> PreferencesOut:
    """Replaces the preferences whole; the fan-out applies them from its next batch on."""
    start, end = body.window()
    values = body.model_dump() | {"quiet_hours_start": start, "quiet_hours_end": end}
    await db.run(queries.upsert_preferences, viewer=viewer, values=values)
    return PreferencesOut(**body.model_dump(), stored=True)
