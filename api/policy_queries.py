"""The SQL of escalation policy administration: an organization's overrides of the default policies.

Each public function is one unit of work for ``api.database.Database.run``. The fan-out reads the
overrides when it raises an alert (``sinks.postgres.alerts.load_overrides``) and copies the policy into
the alert, so an edit applies to alerts raised after it, never to one already running.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import CursorResult, Row, text
from sqlalchemy.orm import Session

from processors.visibility import Viewer

_sql = functools.lru_cache(maxsize=16)(text)
_COLUMNS = "event_type, policy, updated_by, updated_at"


def select_overrides(*, session: Session, viewer: Viewer) -> list[Row]:
    """The caller's organization's overrides, by event type."""
    return list(
        session.execute(
            _sql(f"SELECT {_COLUMNS} FROM escalation_policies WHERE organization_id = :org ORDER BY event_type"),
            {"org": viewer.organization_id},
        ).all()
    )


def upsert_override(*, session: Session, viewer: Viewer, event_type: str, policy: dict[str, Any]) -> Row:
    """Stores the organization's policy for ``event_type`` (replacing any), recording who and when."""
    return session.execute(
        _sql(
            "INSERT INTO escalation_policies (organization_id, event_type, policy, updated_by, updated_at) "
            "VALUES (:org, :type, CAST(:policy AS jsonb), :viewer, now()) ON CONFLICT (organization_id, event_type) "
            "DO UPDATE SET policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, updated_at = now() "
            f"RETURNING {_COLUMNS}"
        ),
        {"org": viewer.organization_id, "type": event_type, "policy": json.dumps(policy), "viewer": viewer.user_id},
    ).one()


def delete_override(*, session: Session, viewer: Viewer, event_type: str) -> bool:
    """Removes the organization's policy for ``event_type`` (the default applies again); False when
    there was none."""
    result: CursorResult[Any] = session.execute(
        _sql("DELETE FROM escalation_policies WHERE organization_id = :org AND event_type = :type"),
        {"org": viewer.organization_id, "type": event_type},
    )  # type: ignore[assignment]  # a DELETE's result is a CursorResult
    return result.rowcount > 0
