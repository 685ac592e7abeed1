"""What a stream sends for a change: the same JSON as the REST item, decided for one caller."""

from __future__ import annotations

from api.schemas import ActivityItem, NotificationItem
from processors.visibility import FeedEvent, Viewer, ViewerFacts, can_see


class _Row(dict):
    """A dict row that reads like the SQLAlchemy rows the REST schemas are built from."""

    def _asdict(self) -> dict:
        return dict(self)

    def __getattr__(self, name: str):
        return self[name]


def _event_visible(row: dict, viewer: Viewer, facts: ViewerFacts) -> bool:
    if row["e_organization_id"] is None:
        return False
    # A NULL visibility is clinical staff only, as in api.queries.VISIBLE (an unknown value fails closed).
    event = FeedEvent(row["e_organization_id"], row["e_visibility"] or "", row["e_actor_user_id"], row["e_patient_id"])
    return can_see(event, viewer, facts)


def notification(row: dict, viewer: Viewer, facts: ViewerFacts) -> dict:
    """One item of ``GET /v1/notifications``: ``event_title`` only while the caller may see the event."""
    title = row["e_title"] if _event_visible(row, viewer, facts) else None
    return NotificationItem.of(_Row(row, event_title=title)).model_dump(mode="json")


def notification_updated(row: dict, viewer: Viewer, facts: ViewerFacts) -> dict:
    """A notification read, acknowledged or declined: its id, read time and answer."""
    item = notification(row, viewer, facts)
    return {k: item[k] for k in ("notification_id", "read_at", "acknowledgement")}


def feed_item(row: dict, viewer: Viewer, facts: ViewerFacts) -> dict | None:
    """One item of ``GET /v1/feed``, or None when the caller may not see the event
    (``processors.visibility.can_see``, the rule ``api.queries.VISIBLE`` mirrors)."""
    event = FeedEvent(row["organization_id"], row["visibility"] or "", row["actor_user_id"], row["patient_id"])
    if not can_see(event, viewer, facts):
        return None
    return ActivityItem.model_validate(row).model_dump(mode="json")
