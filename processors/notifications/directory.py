"""The slice of the directory the notification rules read: users, and active care-team memberships."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from streams.messages import DirectoryChange


class DirectoryUser(NamedTuple):
    """A user as the directory topic last described them (a named tuple: the fan-out builds 10,000 of
    them for an organization-wide event)."""

    user_id: str
    organization_id: str
    roles: frozenset[str] = frozenset()
    active: bool = True
    timezone: str | None = None
    supervisor_user_id: str | None = None

    def is_active_member_of(self, organization_id: str) -> bool:
        return self.active and self.organization_id == organization_id


@dataclass(frozen=True, slots=True)
class Directory:
    """The slice of the directory a rule needs: users by id, and patient_id -> active care-team user ids.
    ``former_members``: patient_id -> {user_id: when they left the care team}, loaded only by the
    escalator, which records a member who left since an alert was raised as skipped."""

    users: Mapping[str, DirectoryUser] = field(default_factory=dict)
    care_teams: Mapping[str, frozenset[str]] = field(default_factory=dict)
    former_members: Mapping[str, Mapping[str, datetime]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        users: Iterable[DirectoryUser] = (),
        care_team: Iterable[tuple[str, str]] = (),
        former: Iterable[tuple[str, str, datetime]] = (),
    ) -> Directory:
        """Builds a directory from users, active (patient_id, user_id) memberships and ended ones
        (patient_id, user_id, left_at)."""
        teams: dict[str, set[str]] = {}
        for patient_id, user_id in care_team:
            teams.setdefault(patient_id, set()).add(user_id)
        left: dict[str, dict[str, datetime]] = {}
        for patient_id, user_id, left_at in former:
            left.setdefault(patient_id, {})[user_id] = left_at
        return cls({u.user_id: u for u in users}, {p: frozenset(m) for p, m in teams.items()}, left)

    @classmethod
    def from_changes(cls, changes: Iterable[DirectoryChange]) -> Directory:
        """Replays directory records in order, the last one per key winning (as the compacted topic does)."""
        users: dict[str, DirectoryUser] = {}
        members: dict[tuple[str, str], bool] = {}
        for c in changes:
            if c.entity == "user":
                users[c.user_id] = DirectoryUser(
                    c.user_id, c.organization_id, frozenset(c.roles), c.active, c.timezone, c.supervisor_user_id
                )
            elif c.patient_id is not None:  # a membership names its patient (a None one would match no event)
                members[(c.patient_id, c.user_id)] = c.active
        return cls.of(users.values(), [key for key, active in members.items() if active])

    def care_team_of(self, patient_id: str | None) -> frozenset[str]:
        return self.care_teams.get(patient_id, frozenset()) if patient_id else frozenset()

    def zone_of(self, user_id: str) -> str | None:
        """The user's time zone as the directory knows it (None for an unknown user or no zone)."""
        user = self.users.get(user_id)
        return user.timezone if user else None
