"""The read API in-process (TestClient / ASGI) on the session's fresh database.

Every test makes its own organization (``world.org``), so tests never see each other's rows; test data
is inserted with SQL, because the tables are the contract between the pipeline and the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from api.auth import issue_token
from api.main import create_app
from api.settings import ApiSettings
from processors.notifications.ids import notification_id

SECRET = "integration-test-secret-" + "0123456789abcdef" * 3
# A month back: inside the feed's and the bell's default retention, which bound what the API shows.
T0 = (datetime.now(timezone.utc) - timedelta(days=30)).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="session")
def api_settings(database_url) -> ApiSettings:
    # No directory cache: tests change care teams between requests and expect the next one to see it.
    return ApiSettings(env="dev", database_url=database_url, api_jwt_secret=SecretStr(SECRET), api_directory_cache_s=0)


@pytest.fixture(scope="session")
def api_app(api_settings):
    return create_app(api_settings)


@pytest.fixture(scope="session")
def client(api_app):
    with TestClient(api_app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def db(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def token(user_id: str, org: str, *roles: str, secret: str = SECRET, **claims) -> str:
    return issue_token(secret, user_id=user_id, organization_id=org, roles=list(roles), **claims)


def bearer(user_id: str, org: str, *roles: str, **claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id, org, *roles, **claims)}"}


@dataclass
class World:
    """One test's organization and the rows it inserted."""

    db: object
    org: str = field(default_factory=lambda: f"org-{uuid.uuid4().hex[:12]}")

    def uid(self, name: str) -> str:
        return f"{self.org}-{name}"

    def user(
        self,
        name: str,
        *roles: str,
        active: bool = True,
        supervisor: str | None = None,
        timezone: str | None = None,
        org: str | None = None,
    ) -> str:
        user_id = self.uid(name)
        self._run(
            "INSERT INTO directory_users (user_id, organization_id, roles, active, timezone, "
            "supervisor_user_id, changed_at) VALUES (:u, :o, :r, :a, :tz, :s, now())",
            u=user_id,
            o=org or self.org,
            r=list(roles),
            a=active,
            tz=timezone,
            s=self.uid(supervisor) if supervisor else None,
        )
        return user_id

    def on_team(self, patient: str, user: str, active: bool = True) -> None:
        self._run(
            "INSERT INTO care_team_members (patient_id, user_id, organization_id, active, changed_at) "
            "VALUES (:p, :u, :o, :a, now()) ON CONFLICT (patient_id, user_id) DO UPDATE SET active = :a",
            p=self.uid(patient),
            u=self.uid(user),
            o=self.org,
            a=active,
        )

    def event(
        self,
        event_type: str = "APPOINTMENT_SCHEDULED",
        *,
        visibility: str | None = "all_members",
        patient: str | None = None,
        actor: str | None = None,
        at: datetime | None = None,
        title: str = "something happened",
        org: str | None = None,
        event_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        event_id = event_id or uuid.uuid4()
        self._run(
            "INSERT INTO activity_events (event_id, event_type, priority, occurred_at, organization_id, "
            "actor_user_id, patient_id, title, notify, visibility) "
            "VALUES (:id, :t, 'NORMAL', :at, :o, :actor, :p, :title, false, :v)",
            id=event_id,
            t=event_type,
            at=at or T0,
            o=org or self.org,
            actor=self.uid(actor) if actor else None,
            p=self.uid(patient) if patient else None,
            title=title,
            v=visibility,
        )
        return event_id

    def notification(
        self,
        user: str,
        event_id: uuid.UUID,
        *,
        event_type: str = "LAB_RESULT_RECEIVED",
        patient: str | None = None,
        created: datetime | None = None,
        read: bool = False,
    ) -> uuid.UUID:
        user_id = self.uid(user)
        nid = notification_id(event_id, user_id)
        self._run(
            # The bell row carries its event's occurred_at, as the fan-out writes it (the shared partition key).
            "INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, "
            "priority, reason, patient_id, occurred_at, created_at, read_at) VALUES (:n, :u, :o, :e, :t, "
            "'NORMAL', 'care_team', :p, COALESCE((SELECT occurred_at FROM activity_events WHERE event_id = :e), :c), "
            ":c, CASE WHEN :r THEN now() END)",
            n=nid,
            u=user_id,
            o=self.org,
            e=event_id,
            t=event_type,
            p=self.uid(patient) if patient else None,
            c=created or T0,
            r=read,
        )
        return nid

    def headers(self, name: str, *roles: str, **claims) -> dict[str, str]:
        return bearer(self.uid(name), self.org, *roles, **claims)

    def scalar(self, sql: str, **params):
        with self.db.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def _run(self, sql: str, **params) -> None:
        with self.db.begin() as conn:
            conn.execute(text(sql), params)


@pytest.fixture
def world(db) -> World:
    return World(db)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)
