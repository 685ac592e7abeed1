"""Alerts in Postgres: raising them (the fan-out), their timers (the escalator), their history.

Lock order, which every writer keeps so none deadlocks another: the ``alerts`` row first, then its
``alert_steps``, ``alert_log`` and ``user_notifications`` rows. The escalator claims due timers by
locking their alert with SKIP LOCKED, so replicas never fire one step twice and an acknowledgement in
progress (which holds the alert) makes the escalator pass the alert by until it commits.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from processors.catalogue import effective_priority
from processors.notifications.alerts import AlertState, Skipped, StepPlan
from processors.notifications.escalation_policy import EscalationPolicy, policy_from_json
from processors.notifications.plan import RaisedAlert
from streams.messages import ActivityEvent, Priority

_ALERT_COLUMNS = (
    "event_id, organization_id, event_type, priority, patient_id, actor_user_id, practitioner_user_id, "
    "resource_type, resource_id, occurred_at, raised_at, policy"
)


def write_raised_alerts(cur, alerts: Sequence[RaisedAlert]) -> None:
    """The alerts the fan-out raised, inside its transaction: the alert, its step 0 as fired, the timer
    of step 1 (or of the exhaustion check) and step 0's skips. Idempotent: a redelivered event's alert
    exists already and nothing changes."""
    cur.executemany(
        f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES ({', '.join(['%s'] * 12)}) ON CONFLICT (event_id) DO NOTHING",
        [_alert_row(a) for a in alerts],
    )
    cur.executemany(
        "INSERT INTO alert_steps (event_id, step, due_at, fired_at, notified, skipped) VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (event_id, step) DO NOTHING",
        [row for a in alerts for row in _first_step_rows(a)],
    )
    skips = [_skip_row(a.event.event_id, a.first_step, s) for a in alerts for s in a.first_step.skipped]
    if skips:
        log_entries(cur, skips)


def _alert_row(alert: RaisedAlert) -> tuple:
    e, raised = alert.event, alert.first_step.fired_at
    priority = effective_priority(e).value
    return (
        e.event_id,
        e.organization_id,
        e.event_type,
        priority,
        e.patient_id,
        e.actor_user_id,
        e.practitioner_user_id,
        e.resource_type,
        e.resource_id,
        e.occurred_at,
        raised,
        json.dumps(alert.policy.to_json()),
    )


def _first_step_rows(alert: RaisedAlert) -> list[tuple]:
    first = alert.first_step
    return [
        (alert.event.event_id, 0, first.fired_at, first.fired_at, len(first.bell), len(first.skipped)),
        (alert.event.event_id, 1, first.next_due_at, None, 0, 0),
    ]


def _skip_row(event_id: uuid.UUID, step: StepPlan, skipped: Skipped) -> tuple:
    return (event_id, step.step, skipped.user_id, "skipped", skipped.reason.value, step.fired_at)


def log_entries(cur, rows: Iterable[tuple]) -> None:
    """(event_id, step, user_id, action, detail, at) history entries; one per (alert, step, user, action).
    One statement for the lot (arrays unnested), whatever their number."""
    rows = list(rows)
    if not rows:
        return
    cur.execute(
        "INSERT INTO alert_log (event_id, step, user_id, action, detail, at) "
        "SELECT * FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::text[], %s::text[], %s::timestamptz[]) "
        "ON CONFLICT (event_id, step, user_id, action) DO NOTHING",
        [list(column) for column in zip(*rows, strict=True)],
    )


@dataclass(frozen=True)
class DueStep:
    """A claimed timer and what firing it needs of its alert."""

    event: ActivityEvent
    policy: EscalationPolicy
    step: int
    due_at: datetime
    raised_at: datetime

    @property
    def exhausts(self) -> bool:
        """The timer after the last step: nobody acknowledged, the alert is exhausted."""
        return self.step >= len(self.policy.steps)


_CLAIM = text(
    f"""
    SELECT s.step, s.due_at, {", ".join("a." + c.strip() for c in _ALERT_COLUMNS.split(","))}
    FROM alert_steps s JOIN alerts a ON a.event_id = s.event_id
    WHERE s.fired_at IS NULL AND s.cancelled_at IS NULL AND s.due_at <= :now AND a.state = 'open'
    ORDER BY s.due_at
    LIMIT :limit
    FOR UPDATE OF a SKIP LOCKED
    """
)


def claim_due(conn: Connection, now: datetime, limit: int) -> list[DueStep]:
    """Locks up to ``limit`` due timers' alerts for this transaction, earliest due first; an alert
    another transaction holds (a replica, an acknowledgement) is passed by."""
    return [_due_step(r) for r in conn.execute(_CLAIM, {"now": now, "limit": limit}).all()]


def _due_step(r) -> DueStep:
    (
        step,
        due_at,
        event_id,
        org,
        event_type,
        priority,
        patient,
        actor,
        practitioner,
        rtype,
        rid,
        occurred,
        raised,
        policy,
    ) = r
    event = ActivityEvent(
        event_id,
        event_type,
        occurred,
        org,
        "",
        priority=Priority(priority),
        actor_user_id=actor,
        patient_id=patient,
        resource_type=rtype,
        resource_id=rid,
        practitioner_user_id=practitioner,
        notify=True,
    )
    return DueStep(event, policy_from_json(policy), step, due_at, raised)


def notified_users(conn: Connection, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, frozenset[str]]:
    """The users each alert's fired steps notified."""
    rows = conn.execute(
        text("SELECT event_id, user_id FROM user_notifications WHERE alert_step IS NOT NULL AND event_id = ANY(:ids)"),
        {"ids": list(event_ids)},
    ).all()
    found: dict[uuid.UUID, set[str]] = {}
    for event_id, user_id in rows:
        found.setdefault(event_id, set()).add(user_id)
    return {k: frozenset(v) for k, v in found.items()}


def record_fired(cur, fired: Sequence[tuple[DueStep, StepPlan]]) -> None:
    """Steps fired: each timer closed with its counts, the next timers set, the alerts' latest step
    moved, the skips logged. Four statements for the whole tick, not four per step: per-step statements
    were two thirds of a tick's time (bench/escalation.py)."""
    if not fired:
        return
    ids = [d.event.event_id for d, _ in fired]
    steps = [p.step for _, p in fired]
    cur.execute(
        "UPDATE alert_steps s SET fired_at = v.fired_at, notified = v.notified, skipped = v.skipped "
        "FROM unnest(%s::uuid[], %s::int[], %s::timestamptz[], %s::int[], %s::int[]) "
        "AS v(event_id, step, fired_at, notified, skipped) WHERE s.event_id = v.event_id AND s.step = v.step",
        (
            ids,
            steps,
            [p.fired_at for _, p in fired],
            [len(p.bell) for _, p in fired],
            [len(p.skipped) for _, p in fired],
        ),
    )
    cur.execute(
        "INSERT INTO alert_steps (event_id, step, due_at) SELECT * FROM unnest(%s::uuid[], %s::int[], %s::timestamptz[]) "
        "ON CONFLICT (event_id, step) DO NOTHING",
        (ids, [s + 1 for s in steps], [p.next_due_at for _, p in fired]),
    )
    cur.execute(
        "UPDATE alerts a SET latest_step = GREATEST(a.latest_step, v.step) "
        "FROM unnest(%s::uuid[], %s::int[]) AS v(event_id, step) WHERE a.event_id = v.event_id",
        (ids, steps),
    )
    log_entries(cur, [_skip_row(d.event.event_id, p, s) for d, p in fired for s in p.skipped])


def record_exhausted(cur, due: Sequence[DueStep], now: datetime) -> None:
    """Nobody acknowledged in time: the alerts are exhausted and their last timers closed."""
    if not due:
        return
    ids = [d.event.event_id for d in due]
    cur.execute(
        "UPDATE alert_steps s SET fired_at = %s FROM unnest(%s::uuid[], %s::int[]) AS v(event_id, step) "
        "WHERE s.event_id = v.event_id AND s.step = v.step",
        (now, ids, [d.step for d in due]),
    )
    cur.execute(
        "UPDATE alerts SET state = %s, closed_at = %s WHERE event_id = ANY(%s) AND state = %s",
        (AlertState.EXHAUSTED.value, now, ids, AlertState.OPEN.value),
    )
    log_entries(cur, [(d.event.event_id, d.step, None, "exhausted", None, now) for d in due])


def load_overrides(conn: Connection, organizations: Iterable[str]) -> dict[tuple[str, str], EscalationPolicy]:
    """The organizations' stored policy overrides, by (organization, event type). A row that no longer
    parses (written by a later version) is left out, so the catalogue's default applies."""
    rows = conn.execute(
        text("SELECT organization_id, event_type, policy FROM escalation_policies WHERE organization_id = ANY(:o)"),
        {"o": list(set(organizations))},
    ).all()
    found = {}
    for org, event_type, policy in rows:
        try:
            found[(org, event_type)] = policy_from_json(policy)
        except ValueError:
            continue
    return found


def load_former_members(
    conn: Connection, patient_ids: Iterable[str], since: datetime
) -> list[tuple[str, str, datetime]]:
    """(patient_id, user_id, left_at) of memberships of these patients that ended at or after ``since``."""
    rows = conn.execute(
        text(
            "SELECT patient_id, user_id, changed_at FROM care_team_members "
            "WHERE NOT active AND patient_id = ANY(:p) AND changed_at >= :since"
        ),
        {"p": list(set(patient_ids)), "since": since},
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]
