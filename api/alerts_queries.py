"""The SQL of urgent alerts: a recipient's answer (acknowledge, decline) and one alert's history.

Like ``api.queries``, each public function is one unit of work for ``api.database.Database.run``. The
API's engine autocommits; the functions here open a transaction (``_begin``) because an answer locks
rows across statements and a history must come from one snapshot. ``Database.run`` commits it.

Lock order is the one every writer of alerts keeps (``sinks.postgres.alerts``): the ``alerts`` row
first (FOR UPDATE), then ``user_notifications``, ``alert_log`` and ``alert_steps``. While an answer
holds its alert, the escalator (which claims with SKIP LOCKED) passes the alert by.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.orm import Session

from api.alert_record import (
    AlertRecord,
    acknowledgement_mode,
    assemble,
    decline_hurries,
    state_after_answer,
)
from api.queries import VISIBLE, visibility_params
from processors.notifications.alerts import AckStatus, AlertState, ack_status
from processors.visibility import Viewer, ViewerFacts
from sinks.postgres.alerts import log_entries

_sql = functools.lru_cache(maxsize=64)(text)
_MINE = "n.user_id = :viewer AND n.organization_id = :org"


class Action(StrEnum):
    """A recipient's answer; the value is the ``alert_log`` action it records."""

    ACKNOWLEDGE = "acknowledged"
    DECLINE = "declined"


class Refusal(StrEnum):
    """Why an answer was not taken (a 409; the message is the value)."""

    NOT_AN_ALERT = "this notification does not ask for an acknowledgement"
    ALREADY_ACKNOWLEDGED = "already acknowledged; an acknowledgement cannot be declined"


@dataclass(frozen=True, slots=True)
class Answer:
    """The notification's answer after the call. ``ended_at``: set when this call's acknowledgement
    ended the alert (the API then observes ``herald_alert_acknowledged_seconds``)."""

    notification_id: uuid.UUID
    event_id: uuid.UUID
    step: int
    acknowledged_at: datetime | None
    declined_at: datetime | None
    status: AckStatus
    alert_state: AlertState
    event_type: str
    occurred_at: datetime
    ended_at: datetime | None = None


def _begin(session: Session, isolation: str = "READ COMMITTED") -> None:
    """Opens a transaction on the session's connection (the engine's default is autocommit); the pool
    restores autocommit when the connection is given back."""
    session.connection(execution_options={"isolation_level": isolation})


def answer(*, session: Session, viewer: Viewer, notification_id: uuid.UUID, action: Action) -> Answer | Refusal | None:
    """Records the caller's acknowledgement or decline of their own alert notification, once: a repeat
    changes nothing and returns the same times. None when the id is not the caller's."""
    _begin(session)
    mine = session.execute(
        _sql(f"SELECT n.event_id, n.alert_step FROM user_notifications n WHERE n.notification_id = :id AND {_MINE}"),
        {"viewer": viewer.user_id, "org": viewer.organization_id, "id": notification_id},
    ).one_or_none()
    if mine is None:
        return None
    if mine.alert_step is None:
        return Refusal.NOT_AN_ALERT
    alert = session.execute(
        _sql(
            "SELECT state, latest_step, policy, event_type, occurred_at, now() AS now FROM alerts "
            "WHERE event_id = :e FOR UPDATE"
        ),
        {"e": mine.event_id},
    ).one_or_none()
    if alert is None:  # an alert notification whose alert row is gone: nothing left to answer
        return Refusal.NOT_AN_ALERT
    note = session.execute(
        _sql("SELECT acknowledged_at, declined_at FROM user_notifications WHERE notification_id = :id FOR UPDATE"),
        {"id": notification_id},
    ).one()
    state, now = AlertState(alert.state), alert.now
    acknowledged_at, declined_at, ended_at = note.acknowledged_at, note.declined_at, None
    mode = acknowledgement_mode(alert.policy)
    if action == Action.DECLINE and acknowledged_at is not None:
        return Refusal.ALREADY_ACKNOWLEDGED
    if action == Action.ACKNOWLEDGE and acknowledged_at is None:
        acknowledged_at = now
        _record(session, notification_id, mine.event_id, mine.alert_step, viewer.user_id, action, now)
        counts = session.execute(
            _sql(
                "SELECT count(*) AS recipients, count(acknowledged_at) AS acknowledged FROM user_notifications "
                "WHERE event_id = :e AND alert_step IS NOT NULL"
            ),
            {"e": mine.event_id},
        ).one()
        after = state_after_answer(
            state,
            mode,
            latest_step=alert.latest_step,
            acknowledged_step=mine.alert_step,
            recipients=counts.recipients,
            acknowledged=counts.acknowledged,
        )
        if after != state:
            _close(session, mine.event_id, viewer.user_id, now)
            state, ended_at = after, now
    elif action == Action.DECLINE and declined_at is None:
        declined_at = now
        _record(session, notification_id, mine.event_id, mine.alert_step, viewer.user_id, action, now)
        if decline_hurries(state, mode):
            session.execute(
                _sql(
                    "UPDATE alert_steps SET due_at = :now WHERE event_id = :e "
                    "AND fired_at IS NULL AND cancelled_at IS NULL AND due_at > :now"
                ),
                {"e": mine.event_id, "now": now},
            )
    return Answer(
        notification_id,
        mine.event_id,
        mine.alert_step,
        acknowledged_at,
        declined_at,
        ack_status(acknowledged_at, declined_at, state),
        state,
        alert.event_type,
        alert.occurred_at,
        ended_at,
    )


def _record(
    session: Session,
    notification_id: uuid.UUID,
    event_id: uuid.UUID,
    step: int,
    user_id: str,
    action: Action,
    now: datetime,
) -> None:
    """The answer on the notification and in the alert's history (the history's insert is the sink's)."""
    column = "acknowledged_at" if action == Action.ACKNOWLEDGE else "declined_at"
    session.execute(
        _sql(f"UPDATE user_notifications SET {column} = :now WHERE notification_id = :id AND {column} IS NULL"),
        {"id": notification_id, "now": now},
    )
    cur = session.connection().connection.cursor()
    try:
        log_entries(cur, [(event_id, step, user_id, action.value, None, now)])
    finally:
        cur.close()


def _close(session: Session, event_id: uuid.UUID, user_id: str, now: datetime) -> None:
    """The alert is acknowledged: closed by ``user_id``, and no pending timer fires."""
    session.execute(
        _sql("UPDATE alerts SET state = 'acknowledged', acknowledged_by = :u, closed_at = :now WHERE event_id = :e"),
        {"e": event_id, "u": user_id, "now": now},
    )
    session.execute(
        _sql(
            "UPDATE alert_steps SET cancelled_at = :now WHERE event_id = :e AND fired_at IS NULL "
            "AND cancelled_at IS NULL"
        ),
        {"e": event_id, "now": now},
    )


# --- one alert's history -----------------------------------------------------------------------------

# A recipient of any step, the event's actor, or a supervisor of the organization; and, always, one who
# may see the event in the feed (its visibility and patient access).
_ALERT = f"""
    SELECT a.event_id, a.event_type, a.priority, a.patient_id, a.resource_type, a.resource_id, a.state,
           a.raised_at, a.closed_at, a.acknowledged_by, a.policy
    FROM alerts a JOIN activity_events e ON e.event_id = a.event_id
    WHERE a.event_id = :id AND a.organization_id = :org AND {VISIBLE}
      AND (   a.actor_user_id = :viewer OR :supervisor
           OR EXISTS (SELECT 1 FROM user_notifications n
                      WHERE n.event_id = a.event_id AND n.user_id = :viewer AND n.organization_id = :org
                        AND n.alert_step IS NOT NULL))"""
_NOTIFIED = """
    SELECT n.alert_step, n.user_id, n.notification_id, n.created_at, n.acknowledged_at, n.declined_at,
           min(d.updated_at) FILTER (WHERE d.status = 'sent') AS sent_at,
           array_remove(array_agg(DISTINCT d.status), NULL) AS statuses
    FROM user_notifications n LEFT JOIN push_deliveries d ON d.notification_id = n.notification_id
    WHERE n.event_id = :id AND n.alert_step IS NOT NULL
    GROUP BY n.notification_id, n.occurred_at"""  # the primary key (migration 0009): n's columns follow from it


def load_alert(*, session: Session, viewer: Viewer, facts: ViewerFacts, event_id: uuid.UUID) -> AlertRecord | None:
    """The alert and its history, read in one snapshot; None when it does not exist or the caller may
    not see it (alike)."""
    _begin(session, "REPEATABLE READ")
    params = visibility_params(viewer=viewer, facts=facts) | {"id": event_id}
    alert = session.execute(_sql(_ALERT), params).mappings().one_or_none()
    if alert is None:
        return None
    by_id = {"id": event_id}
    steps = session.execute(
        _sql("SELECT step, due_at, fired_at, cancelled_at FROM alert_steps WHERE event_id = :id ORDER BY step"), by_id
    ).mappings()
    notified = session.execute(_sql(_NOTIFIED), by_id).mappings()
    log = session.execute(
        _sql("SELECT step, user_id, action, detail, at FROM alert_log WHERE event_id = :id ORDER BY at, id"), by_id
    ).mappings()
    return assemble(dict(alert), [dict(r) for r in steps], [dict(r) for r in notified], [dict(r) for r in log])
