"""SQL of the receipts: recording that a notification was opened, and an organization's summary of
pushes accepted by FCM and notifications opened, per event type (units of work for ``Database.run``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from api.receipts import Window, open_seconds
from processors.visibility import Viewer

_MINE = "n.user_id = :viewer AND n.organization_id = :org"


class Opened(NamedTuple):
    """The notification's receipt; ``first_seconds`` is set only for the call that recorded the open."""

    opened_at: datetime
    read_at: datetime
    event_type: str
    first_seconds: float | None


def mark_opened(*, session: Session, viewer: Viewer, notification_id: uuid.UUID) -> Opened | None:
    """Sets opened_at once and read_at if it was unread (a second call keeps both); None when the id is
    not the caller's. Two concurrent first opens: the second waits on the row lock, finds opened_at set
    and updates nothing, so exactly one call reports the first open."""
    params = {"viewer": viewer.user_id, "org": viewer.organization_id, "id": notification_id}
    row = session.execute(
        text(
            "UPDATE user_notifications n SET opened_at = now(), read_at = COALESCE(n.read_at, now()) "
            f"WHERE n.notification_id = :id AND {_MINE} AND n.opened_at IS NULL "
            "RETURNING n.opened_at, n.read_at, n.event_type, n.pushed_at, n.created_at"
        ),
        params,
    ).one_or_none()
    if row is not None:
        seconds = open_seconds(opened_at=row.opened_at, pushed_at=row.pushed_at, created_at=row.created_at)
        return Opened(row.opened_at, row.read_at, row.event_type, seconds)
    again = session.execute(  # already opened, or not ours: the committed row tells which
        text(
            f"SELECT n.opened_at, n.read_at, n.event_type FROM user_notifications n WHERE n.notification_id = :id AND {_MINE}"
        ),
        params,
    ).one_or_none()
    return None if again is None else Opened(again.opened_at, again.read_at, again.event_type, None)


# One row per event type of the organization's notifications created in the window. A notification is
# pushed when at least one of its devices got a send (push_deliveries, whatever the answer), accepted
# when FCM accepted it for at least one (status 'sent'); the device counts are the same per device.
SUMMARY_SQL = """
SELECT n.event_type,
       count(*) AS notifications,
       count(*) FILTER (WHERE d.devices > 0) AS pushed,
       count(*) FILTER (WHERE d.accepted > 0) AS accepted,
       count(n.opened_at) AS opened,
       COALESCE(sum(d.devices), 0) AS devices_pushed,
       COALESCE(sum(d.accepted), 0) AS devices_accepted,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY GREATEST(extract(epoch FROM n.opened_at - COALESCE(n.pushed_at, n.created_at)), 0))
           FILTER (WHERE n.opened_at IS NOT NULL) AS median_open_seconds
FROM user_notifications n
CROSS JOIN LATERAL (
    SELECT count(*) AS devices, count(*) FILTER (WHERE pd.status = 'sent') AS accepted
    FROM push_deliveries pd WHERE pd.notification_id = n.notification_id) d
WHERE n.organization_id = :org AND n.created_at >= :since AND n.created_at < :until
GROUP BY n.event_type
ORDER BY n.event_type
"""


def receipts_summary(*, session: Session, viewer: Viewer, window: Window) -> list[Row]:
    """Per event type: notifications, pushed, accepted, opened, devices pushed and accepted, median
    seconds to open (None when none was opened), of the caller's organization in the window."""
    return list(
        session.execute(
            text(SUMMARY_SQL), {"org": viewer.organization_id, "since": window.since, "until": window.until}
        ).all()
    )
