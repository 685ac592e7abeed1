"""Every SQL statement of the read API, as keyword-only functions over a Session.

Each public function is one unit of work for ``api.database.Database.run``: it runs in a worker thread
with its own connection, which it gives back before the route builds its response.

``VISIBLE`` is ``processors.visibility.can_see`` in SQL, clause for clause (its docstring has the
sketch; ``tests/integration/api/test_authorization.py`` checks the two agree row by row). The role
sets come from ``processors.visibility``; they are evaluated in Python and bound as booleans, and the
directory facts (care-team patients, supervisees) are loaded once per request and bound as arrays.

Order everywhere is newest first by (time, id), with keyset pagination on that pair (``api.cursor``).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import CursorResult, Row, text
from sqlalchemy.orm import Session

from api.cursor import Position
from processors.visibility import (
    CLINICAL_STAFF_ROLES,
    ORG_WIDE_PATIENT_ACCESS_ROLES,
    SUPERVISOR_ROLES,
    Viewer,
    ViewerFacts,
)

UNREAD_CAP = 999
# The feed leaves out events dated further than this ahead of the database server's clock (a wrong
# clock) until their time comes. The bound is what lets the planner drop the default partition and the
# empty months ahead, and then read the months newest first, stopping where the page ends
# (docs/decisions/0250-feed-bounded-by-the-partition-key.md).
FEED_AHEAD = timedelta(days=1)
_sql = functools.lru_cache(maxsize=256)(text)  # a statement's text is parsed once, not per request

VISIBLE = """
    e.organization_id = :org
    AND (   e.visibility = 'all_members'
         OR (e.visibility = 'actor_and_supervisors'
             AND (e.actor_user_id = :viewer OR e.actor_user_id = ANY(:supervisees) OR :supervisor))
         OR (:clinical AND COALESCE(e.visibility NOT IN ('all_members', 'actor_and_supervisors'), true)))
    AND (e.patient_id IS NULL OR :org_wide OR e.patient_id = ANY(:patients))
"""
_EVENT_COLUMNS = """e.event_id, e.event_type, e.priority, e.occurred_at, e.actor_user_id, e.patient_id,
    e.encounter_id, e.resource_type, e.resource_id, e.title, e.description, e.visibility, e.attributes"""


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """The optional filters of the feed and the timeline; ``after`` is the decoded cursor."""

    event_types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    after: Position | None = None
    skip: int = 0


def visibility_params(*, viewer: Viewer, facts: ViewerFacts) -> dict:
    """The bind parameters of ``VISIBLE`` for one viewer."""
    return {
        "org": viewer.organization_id,
        "viewer": viewer.user_id,
        "supervisees": sorted(facts.supervisee_user_ids),
        "patients": sorted(facts.care_team_patient_ids),
        "supervisor": bool(viewer.roles & SUPERVISOR_ROLES),
        "clinical": bool(viewer.roles & CLINICAL_STAFF_ROLES),
        "org_wide": bool(viewer.roles & ORG_WIDE_PATIENT_ACCESS_ROLES),
    }


# --- the viewer --------------------------------------------------------------------------------------


def load_caller(*, session: Session, viewer: Viewer) -> tuple[bool | None, frozenset[str], ViewerFacts]:
    """The directory's word on the caller, in one round trip. Standing: True = an active member of the
    token's organization, False = inactive or of another organization, None = not (yet) in the
    directory. Roles: the directory's (empty when it does not know the caller). Facts: active
    care-team patients and supervisees in the token's organization."""
    standing, roles, patients, supervisees = session.execute(
        _sql("""
        SELECT (SELECT active AND organization_id = :org FROM directory_users WHERE user_id = :viewer),
               (SELECT roles FROM directory_users WHERE user_id = :viewer AND organization_id = :org),
               ARRAY(SELECT patient_id FROM care_team_members
                     WHERE user_id = :viewer AND organization_id = :org AND active),
               ARRAY(SELECT user_id FROM directory_users
                     WHERE supervisor_user_id = :viewer AND organization_id = :org)"""),
        {"viewer": viewer.user_id, "org": viewer.organization_id},
    ).one()
    return standing, frozenset(roles or ()), ViewerFacts(frozenset(patients), frozenset(supervisees))


# --- feed and timeline -------------------------------------------------------------------------------


def _filter_sql(flt: FeedFilter, params: dict, kept_since: datetime | None) -> str:
    clauses = ["e.occurred_at < :horizon"]
    params["horizon"] = datetime.now(timezone.utc) + FEED_AHEAD
    if kept_since is not None:
        # What retention keeps of the organization's feed (api.windows), whether or not its job has dropped
        # the expired months yet; the months before are pruned, so a far-back scan ends there.
        clauses.append("e.occurred_at >= :kept_since")
        params["kept_since"] = kept_since
    if flt.event_types:
        clauses.append("e.event_type = ANY(:types)")
        params["types"] = list(flt.event_types)
    if flt.since is not None:
        clauses.append("e.occurred_at >= :since")
        params["since"] = flt.since
    if flt.until is not None:
        clauses.append("e.occurred_at < :until")
        params["until"] = flt.until
    if flt.after is not None:
        # The second clause is implied by the first; Postgres prunes partitions on it, not on a row comparison.
        clauses.append("(e.occurred_at, e.event_id) < (:after_at, :after_id) AND e.occurred_at <= :after_at")
        params.update(after_at=flt.after.at, after_id=flt.after.row_id)
    return "".join(f"\n    AND {c}" for c in clauses)


def select_feed(
    *,
    session: Session,
    viewer: Viewer,
    facts: ViewerFacts,
    flt: FeedFilter,
    limit: int,
    patient_id: str | None = None,
    kept_since: datetime | None = None,
) -> list[Row]:
    """Up to ``limit`` visible events, newest first, none older than ``kept_since``; one patient's only
    when ``patient_id`` is given."""
    params = visibility_params(viewer=viewer, facts=facts) | {"limit": limit, "skip": flt.skip}
    where = VISIBLE + _filter_sql(flt, params, kept_since)
    if patient_id is not None:
        where += "\n    AND e.patient_id = :patient_id"
        params["patient_id"] = patient_id
    return list(
        session.execute(
            _sql(
                f"SELECT {_EVENT_COLUMNS} FROM activity_events e WHERE {where}\n"
                "ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT :limit OFFSET :skip"
            ),
            params,
        ).all()
    )


def patient_known(*, session: Session, viewer: Viewer, patient_id: str) -> bool:
    """Whether the caller's organization has this patient: a care team or an event about them."""
    return session.execute(
        _sql("""
        SELECT EXISTS (SELECT 1 FROM care_team_members WHERE patient_id = :p AND organization_id = :org)
            OR EXISTS (SELECT 1 FROM activity_events WHERE patient_id = :p AND organization_id = :org)"""),
        {"p": patient_id, "org": viewer.organization_id},
    ).scalar_one()


def select_timeline(
    *,
    session: Session,
    viewer: Viewer,
    facts: ViewerFacts,
    flt: FeedFilter,
    limit: int,
    patient_id: str,
    kept_since: datetime | None = None,
) -> list[Row] | None:
    """One patient's page of ``select_feed``; None when the organization does not know the patient."""
    if not patient_known(session=session, viewer=viewer, patient_id=patient_id):
        return None
    return select_feed(
        session=session,
        viewer=viewer,
        facts=facts,
        flt=flt,
        limit=limit,
        patient_id=patient_id,
        kept_since=kept_since,
    )


# --- the bell ----------------------------------------------------------------------------------------

_MINE = "n.user_id = :viewer AND n.organization_id = :org"
# ORDER BY makes the partial unread index (which carries organization_id) the only sensible plan: an
# index-only scan of at most :cap entries, even for the one user who owns a third of the table.
UNREAD_SQL = (
    f"SELECT 1 FROM user_notifications n WHERE {_MINE} AND n.read_at IS NULL ORDER BY n.created_at DESC LIMIT :cap"
)
# The bell's window (api.windows: as long as retention keeps the organization's bell entries, or
# HERALD_API_BELL_WINDOW_DAYS) leaves out entries of older events, and their partitions are never read:
# the bell is ordered by arrival (created_at), so only a bound on the partition key prunes it
# (docs/decisions/0256-the-api-shows-what-retention-keeps.md).
_WINDOW = " AND n.occurred_at >= :bell_since"


def unread_sql(bell_since: datetime | None) -> str:
    return UNREAD_SQL.replace(" ORDER BY", (_WINDOW if bell_since else "") + " ORDER BY")


# A bell row carries its event's occurred_at (the partition key of both tables), so the join reads the
# event's month only; the window again, on the event's side, prunes the older months while planning.
_EVENT_WINDOW = "AND e.occurred_at >= :bell_since"


# An alert notification the caller has not answered, of an alert still open.
AWAITING = (
    " AND n.alert_step IS NOT NULL AND n.acknowledged_at IS NULL AND n.declined_at IS NULL"
    " AND EXISTS (SELECT 1 FROM alerts a WHERE a.event_id = n.event_id AND a.state = 'open')"
)


def select_notifications(
    *,
    session: Session,
    viewer: Viewer,
    facts: ViewerFacts,
    unread_only: bool,
    after: Position | None,
    limit: int,
    awaiting_only: bool = False,
    bell_since: datetime | None = None,
) -> tuple[list[Row], int]:
    """A page of the caller's bell, and the unread count (capped at UNREAD_CAP + 1) of the same
    snapshot: one statement, so a notification committed meanwhile is in both or in neither; entries of
    events before ``bell_since`` are in neither. An alert notification's row carries its answer and its
    alert's state."""
    params = visibility_params(viewer=viewer, facts=facts) | {"limit": limit, "cap": UNREAD_CAP + 1}
    where = _MINE + (" AND n.read_at IS NULL" if unread_only else "") + (AWAITING if awaiting_only else "")
    if bell_since is not None:
        where += _WINDOW
        params["bell_since"] = bell_since
    if after is not None:
        where += " AND (n.created_at, n.notification_id) < (:after_at, :after_id)"
        params.update(after_at=after.at, after_id=after.row_id)
    rows = session.execute(
        _sql(f"""
        WITH page AS (
            SELECT n.* FROM user_notifications n WHERE {where}
            ORDER BY n.created_at DESC, n.notification_id DESC LIMIT :limit),
        unread AS (
            SELECT count(*) AS n FROM ({unread_sql(bell_since)}) capped)
        SELECT unread.n AS unread, p.notification_id, p.event_id, p.event_type, p.priority, p.reason,
               p.patient_id, p.resource_type, p.resource_id, p.occurred_at, p.created_at, p.read_at,
               e.title AS event_title, p.alert_step, p.acknowledged_at, p.declined_at, al.state AS alert_state
        FROM unread
        LEFT JOIN (page p LEFT JOIN activity_events e ON e.event_id = p.event_id AND e.occurred_at = p.occurred_at
                   {_EVENT_WINDOW if bell_since is not None else ""} AND {VISIBLE}
                   LEFT JOIN alerts al ON al.event_id = p.event_id AND p.alert_step IS NOT NULL) ON true
        ORDER BY p.created_at DESC, p.notification_id DESC"""),
        params,
    ).all()
    unread = rows[0].unread
    return [r for r in rows if r.notification_id is not None], unread


def count_unread(*, session: Session, viewer: Viewer, bell_since: datetime | None = None) -> int:
    """The caller's unread notifications, counted up to UNREAD_CAP + 1 (bounded work at any backlog)."""
    return session.execute(
        _sql(f"SELECT count(*) FROM ({unread_sql(bell_since)}) capped"),
        {"viewer": viewer.user_id, "org": viewer.organization_id, "cap": UNREAD_CAP + 1, "bell_since": bell_since},
    ).scalar_one()


def mark_read(*, session: Session, viewer: Viewer, notification_id: uuid.UUID) -> datetime | None:
    """Sets read_at once (a second call keeps the first time); None when the id is not the caller's."""
    params = {"viewer": viewer.user_id, "org": viewer.organization_id, "id": notification_id}
    read_at = session.execute(
        _sql(
            f"UPDATE user_notifications n SET read_at = now() WHERE n.notification_id = :id AND {_MINE} "
            "AND n.read_at IS NULL RETURNING n.read_at"
        ),
        params,
    ).scalar_one_or_none()
    if read_at is None:  # already read, or not ours: the committed row tells which
        read_at = session.execute(
            _sql(f"SELECT n.read_at FROM user_notifications n WHERE n.notification_id = :id AND {_MINE}"), params
        ).scalar_one_or_none()
    return read_at


def mark_all_read(*, session: Session, viewer: Viewer, up_to: uuid.UUID | None) -> int | None:
    """Marks every unread notification (or those up to and including ``up_to``, so one that arrived
    after the client's last look stays unread); None when ``up_to`` is not the caller's."""
    params = {"viewer": viewer.user_id, "org": viewer.organization_id}
    where = f"{_MINE} AND n.read_at IS NULL"
    if up_to is not None:
        bound = session.execute(
            _sql(
                f"SELECT n.created_at, n.notification_id FROM user_notifications n WHERE n.notification_id = :id "
                f"AND {_MINE}"
            ),
            params | {"id": up_to},
        ).one_or_none()
        if bound is None:
            return None
        where += " AND (n.created_at, n.notification_id) <= (:bound_at, :bound_id)"
        params.update(bound_at=bound.created_at, bound_id=bound.notification_id)
    result: CursorResult[Any] = session.execute(
        _sql(f"UPDATE user_notifications n SET read_at = now() WHERE {where}"), params
    )  # type: ignore[assignment]  # an UPDATE's result is a CursorResult
    return result.rowcount


# --- preferences -------------------------------------------------------------------------------------

_PREF_COLUMNS = (
    "push_enabled",
    "email_enabled",
    "enabled_types",
    "min_push_priority",
    "quiet_hours_start",
    "quiet_hours_end",
    "timezone",
)


def select_preferences(*, session: Session, viewer: Viewer) -> Row | None:
    """The caller's stored preferences, or None when they never saved any."""
    return session.execute(
        _sql(f"SELECT {', '.join(_PREF_COLUMNS)} FROM notification_preferences WHERE user_id = :viewer"),
        {"viewer": viewer.user_id},
    ).one_or_none()


def directory_timezone(*, session: Session, viewer: Viewer) -> str | None:
    """The caller's zone in the directory: the default preferences are in it."""
    return session.execute(
        _sql("SELECT timezone FROM directory_users WHERE user_id = :viewer AND organization_id = :org"),
        {"viewer": viewer.user_id, "org": viewer.organization_id},
    ).scalar_one_or_none()


def preferences_or_zone(*, session: Session, viewer: Viewer) -> tuple[Row | None, str | None]:
    """The stored preferences, or (None, the caller's directory zone) for the defaults."""
    row = select_preferences(session=session, viewer=viewer)
    return (row, None) if row is not None else (None, directory_timezone(session=session, viewer=viewer))


def upsert_preferences(*, session: Session, viewer: Viewer, values: dict) -> None:
    """Stores the caller's preferences whole; the fan-out reads them on its next batch."""
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in _PREF_COLUMNS)
    session.execute(
        _sql(
            f"INSERT INTO notification_preferences (user_id, {', '.join(_PREF_COLUMNS)}) "
            f"VALUES (:viewer, {', '.join(':' + c for c in _PREF_COLUMNS)}) "
            f"ON CONFLICT (user_id) DO UPDATE SET {assignments}, updated_at = now()"
        ),
        {"viewer": viewer.user_id, **{c: values[c] for c in _PREF_COLUMNS}},
    )


# --- health ------------------------------------------------------------------------------------------


def ping(*, session: Session) -> None:
    """Raises when the database does not answer within a second."""
    session.execute(_sql("SET LOCAL statement_timeout = 1000"))
    session.execute(_sql("SELECT 1"))
