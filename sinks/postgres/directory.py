"""The directory tables: written by the directory processor, read (in slices) by the fan-out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, NamedTuple

from sqlalchemy import Connection, Engine, text

from sinks.postgres.engine import raw_connection
from sinks.postgres.preferences import PreferencesRow


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: str
    organization_id: str
    roles: tuple[str, ...]
    active: bool
    timezone: str | None
    supervisor_user_id: str | None
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class MemberRow:
    patient_id: str
    user_id: str
    organization_id: str
    active: bool
    changed_at: datetime


@dataclass
class DirectoryBatch:
    """One batch of directory changes, already reduced to the last change per key."""

    users: list[UserRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)
    removed_users: list[str] = field(default_factory=list)
    removed_members: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.users) + len(self.members) + len(self.removed_users) + len(self.removed_members)


_UPSERT_USERS = """
INSERT INTO directory_users (user_id, organization_id, roles, active, timezone, supervisor_user_id, changed_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (user_id) DO UPDATE SET organization_id = EXCLUDED.organization_id, roles = EXCLUDED.roles,
  active = EXCLUDED.active, timezone = EXCLUDED.timezone, supervisor_user_id = EXCLUDED.supervisor_user_id,
  changed_at = EXCLUDED.changed_at, updated_at = now()
WHERE directory_users.changed_at <= EXCLUDED.changed_at
"""
_UPSERT_MEMBERS = """
INSERT INTO care_team_members (patient_id, user_id, organization_id, active, changed_at, updated_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (patient_id, user_id) DO UPDATE SET organization_id = EXCLUDED.organization_id,
  active = EXCLUDED.active, changed_at = EXCLUDED.changed_at, updated_at = now()
WHERE care_team_members.changed_at <= EXCLUDED.changed_at
"""


class DirectorySink:
    """Applies a DirectoryBatch in one transaction; an older change never overwrites a newer one."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write(self, batch: DirectoryBatch) -> None:
        with self._engine.begin() as connection, raw_connection(connection).cursor() as cur:
            if batch.users:
                cur.executemany(
                    _UPSERT_USERS,
                    [
                        (
                            u.user_id,
                            u.organization_id,
                            list(u.roles),
                            u.active,
                            u.timezone,
                            u.supervisor_user_id,
                            u.changed_at,
                        )
                        for u in batch.users
                    ],
                )
            if batch.members:
                cur.executemany(
                    _UPSERT_MEMBERS,
                    [(m.patient_id, m.user_id, m.organization_id, m.active, m.changed_at) for m in batch.members],
                )
            if batch.removed_users:
                cur.execute("DELETE FROM directory_users WHERE user_id = ANY(%s)", (batch.removed_users,))
            for patient_id, user_id in batch.removed_members:
                cur.execute(
                    "DELETE FROM care_team_members WHERE patient_id = %s AND user_id = %s", (patient_id, user_id)
                )


class UserWithPreferences(NamedTuple):
    """A directory user as the fan-out reads them, with their stored preferences (None: never set)."""

    user_id: str
    organization_id: str
    roles: list[str]
    active: bool
    timezone: str | None
    supervisor_user_id: str | None
    preferences: PreferencesRow | None


_USERS_WITH_PREFERENCES = """
SELECT u.user_id, u.organization_id, u.roles, u.active, u.timezone, u.supervisor_user_id, p.user_id, p.push_enabled,
       p.email_enabled, p.enabled_types, p.min_push_priority, p.quiet_hours_start, p.quiet_hours_end, p.timezone
FROM directory_users u LEFT JOIN notification_preferences p ON p.user_id = u.user_id
WHERE u.user_id = ANY(%s) OR u.organization_id = ANY(%s)
"""


def load_users(
    conn: Connection, *, user_ids: Iterable[str] = (), organizations: Iterable[str] = ()
) -> list[UserWithPreferences]:
    """Users named by id, plus every user of the given organizations (for organization-wide events),
    each with their stored preferences: one query, straight on the driver (an announcement reads
    10,000 users; SQLAlchemy's row objects and a second query by 10,000 ids cost more than the read)."""
    with raw_connection(conn).cursor() as cur:
        cur.execute(_USERS_WITH_PREFERENCES, (list(set(user_ids)), list(set(organizations))))
        rows = cur.fetchall()
    return [
        UserWithPreferences(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            None if r[6] is None else PreferencesRow(r[6], r[7], r[8], tuple(r[9]), r[10], r[11], r[12], r[13]),
        )
        for r in rows
    ]


def load_care_teams(conn: Connection, patient_ids: Iterable[str]) -> list[tuple[str, str]]:
    """Active (patient_id, user_id) memberships of the given patients."""
    rows = conn.execute(
        text("SELECT patient_id, user_id FROM care_team_members WHERE active AND patient_id = ANY(:p)"),
        {"p": list(set(patient_ids))},
    ).all()
    return [(r[0], r[1]) for r in rows]
