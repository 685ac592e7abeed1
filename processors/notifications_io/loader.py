"""Loading what the notification rules read: the directory slice and the stored preferences of a batch,
in a few queries (never per event)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from sqlalchemy import Engine, text

from processors.notifications.directory import Directory, DirectoryUser
from processors.notifications.escalation_policy import EscalationPolicy
from processors.notifications.preferences import Preferences
from processors.notifications.recipients import needed_users
from sinks.postgres.activity import COLUMNS, row_content
from sinks.postgres.alerts import load_overrides
from sinks.postgres.directory import UserWithPreferences, load_care_teams, load_users
from sinks.postgres.preferences import PreferencesRow
from streams.messages import ActivityEvent, Priority


def to_preferences(row: PreferencesRow, directory_zone: str | None) -> Preferences:
    """A stored row as the rules' Preferences; a row without a zone uses the directory's."""
    return Preferences(
        push_enabled=row.push_enabled,
        email_enabled=row.email_enabled,
        enabled_types=frozenset(row.enabled_types),
        min_push_priority=Priority(row.min_push_priority),
        quiet_hours_start=row.quiet_hours_start,
        quiet_hours_end=row.quiet_hours_end,
        timezone=row.timezone or directory_zone,
    )


def assemble(users: list[UserWithPreferences], team: list[tuple[str, str]]) -> tuple[Directory, dict[str, Preferences]]:
    """Rows of the two queries as the rules' Directory and the stored Preferences by user (a user
    without a row gets the defaults, in ``plan_batch``)."""
    role_sets: dict[tuple[str, ...], frozenset[str]] = {}  # most users share a handful of role lists
    directory = Directory.of(
        [
            DirectoryUser(
                u.user_id,
                u.organization_id,
                role_sets.get(roles := tuple(u.roles)) or role_sets.setdefault(roles, frozenset(roles)),
                u.active,
                u.timezone,
                u.supervisor_user_id,
            )
            for u in users
        ],
        team,
    )
    return directory, {u.user_id: to_preferences(u.preferences, u.timezone) for u in users if u.preferences}


class DirectoryLoader:
    """Reads the directory slice and preferences a batch needs (fan-out, reconciler, scheduler)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def overrides(self, events: Iterable[ActivityEvent]) -> dict[tuple[str, str], EscalationPolicy]:
        """The escalation policy overrides of the batch's organizations (a small table: one indexed read)."""
        organizations = {e.organization_id for e in events if e.notify}
        if not organizations:
            return {}
        with self._engine.connect() as conn:
            return load_overrides(conn, organizations)

    def load(
        self, events: Iterable[ActivityEvent], overrides: Mapping[tuple[str, str], EscalationPolicy] | None = None
    ) -> tuple[Directory, dict[str, Preferences]]:
        """For a fan-out batch: practitioners, care teams of its patients, whole organizations for
        org-wide events, and whom the first step of each alert names (under ``overrides``)."""
        practitioners, patients, organizations = needed_users(events, overrides)
        with self._engine.connect() as conn:
            team = load_care_teams(conn, patients) if patients else []
            ids = practitioners | {user_id for _, user_id in team}
            users = load_users(conn, user_ids=ids, organizations=organizations) if ids or organizations else []
        return assemble(users, team)

    def stored_contents(self, event_ids: list[UUID]) -> dict[UUID, tuple[object, ...]]:
        """``row_content`` of the stored activity_events rows of ``event_ids``, by event id (stored ones only)."""
        if not event_ids:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT {', '.join(COLUMNS)} FROM activity_events WHERE event_id = ANY(:ids)"), {"ids": event_ids}
            ).all()
        return {row[0]: row_content(tuple(row)) for row in rows}

    def load_for_users(
        self, user_ids: Iterable[str], patient_ids: Iterable[str]
    ) -> tuple[Directory, dict[str, Preferences]]:
        """For the scheduler's re-check at release: these users, and the care teams of these patients."""
        user_ids, patient_ids = list(user_ids), list(patient_ids)
        with self._engine.connect() as conn:
            team = load_care_teams(conn, patient_ids)
            users = load_users(conn, user_ids=user_ids)
        return assemble(users, team)
