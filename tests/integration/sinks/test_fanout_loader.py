"""The fan-out's read of the directory slice: one query joins users and their stored preferences."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timezone

import pytest
from sqlalchemy import text

from processors.notifications.directory import DirectoryUser
from processors.notifications.preferences import Preferences
from processors.notifications_io.loader import DirectoryLoader
from streams.messages import ActivityEvent, Priority

pytestmark = pytest.mark.integration
AT = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def test_an_organization_wide_event_loads_every_user_of_the_org_with_stored_preferences_where_set(engine):
    org, other = f"org-{uuid.uuid4().hex[:8]}", f"org-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO directory_users (user_id, organization_id, roles, active, timezone, supervisor_user_id, "
                "changed_at) VALUES (:u, :o, :r, :a, :z, :s, :t)"
            ),
            [
                dict(u=f"{org}-a", o=org, r=["nurse", "charge"], a=True, z="Asia/Kolkata", s=None, t=AT),
                dict(u=f"{org}-b", o=org, r=["physician"], a=False, z=None, s=f"{org}-a", t=AT),
                dict(u=f"{org}-c", o=org, r=["nurse", "charge"], a=True, z="America/New_York", s=None, t=AT),
                dict(u=f"{other}-d", o=other, r=["nurse"], a=True, z=None, s=None, t=AT),
                dict(u=f"{other}-e", o=other, r=["nurse"], a=True, z=None, s=None, t=AT),
            ],
        )
        conn.execute(
            text(
                "INSERT INTO notification_preferences (user_id, push_enabled, email_enabled, enabled_types, "
                "min_push_priority, quiet_hours_start, quiet_hours_end, timezone) VALUES "
                "(:u, false, true, :types, 'NORMAL', :qs, :qe, :z)"
            ),
            [
                dict(u=f"{org}-a", types=["LAB_RESULT_RECEIVED"], qs=time(22), qe=time(6), z=None),
                dict(u=f"{other}-d", types=[], qs=None, qe=None, z="Europe/Oslo"),
            ],
        )
    announcement = ActivityEvent(uuid.uuid4(), "ANNOUNCEMENT_URGENT", AT, org, "t", notify=True)
    practitioner = ActivityEvent(
        uuid.uuid4(), "TASK_ASSIGNED", AT, other, "t", notify=True, practitioner_user_id=f"{other}-d"
    )

    directory, preferences = DirectoryLoader(engine).load([announcement, practitioner])

    assert directory.users == {
        f"{org}-a": DirectoryUser(f"{org}-a", org, frozenset({"nurse", "charge"}), True, "Asia/Kolkata"),
        f"{org}-b": DirectoryUser(f"{org}-b", org, frozenset({"physician"}), False, None, f"{org}-a"),
        f"{org}-c": DirectoryUser(f"{org}-c", org, frozenset({"nurse", "charge"}), True, "America/New_York"),
        f"{other}-d": DirectoryUser(f"{other}-d", other, frozenset({"nurse"}), True, None),
    }
    assert preferences == {  # a stored row without a zone takes the directory's
        f"{org}-a": Preferences(
            False, True, frozenset({"LAB_RESULT_RECEIVED"}), Priority.NORMAL, time(22), time(6), "Asia/Kolkata"
        ),
        f"{other}-d": Preferences(False, True, frozenset(), Priority.NORMAL, None, None, "Europe/Oslo"),
    }
