"""The feed, a patient's timeline and the bell show each organization as far back as retention keeps its
rows (HERALD_RETENTION_*_DAYS and the per-organization overrides), whether or not the retention job has
dropped the expired months yet; with default settings and no HERALD_API_BELL_WINDOW_DAYS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from sinks.postgres.settings import DataLifecycleSettings, OrganizationRetention
from tests.integration.api.conftest import World

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def worlds(db) -> tuple[World, World, World]:
    """Three organizations: one on the tables' retention, one keeping less, one keeping its bell longer."""
    return World(db), World(db), World(db)


@pytest.fixture
def app_client(api_settings, worlds) -> Iterator[TestClient]:
    _, shorter, longer = worlds
    retention = DataLifecycleSettings(
        retention_feed_days=400,
        retention_bell_days=90,
        retention_organizations={
            shorter.org: OrganizationRetention(feed_days=30, bell_days=7),
            longer.org: OrganizationRetention(bell_days=365),
        },
    )
    with TestClient(create_app(api_settings, retention=retention)) as client:
        yield client


def bell(client: TestClient, world: World) -> tuple[set[str], int, int]:
    """The bell's notification ids, the unread count on its page and the unread-count endpoint's."""
    headers = world.headers("dr", "physician")
    page = client.get("/v1/notifications?limit=200", headers=headers).json()
    count = client.get("/v1/notifications/unread-count", headers=headers).json()["count"]
    return {item["notification_id"] for item in page["items"]}, page["unread"]["count"], count


def test_a_bell_entry_older_than_the_organizations_bell_retention_is_neither_shown_nor_counted(app_client, worlds):
    ids = {}
    for world in worlds:
        world.user("dr", "physician")
        ids[world.org] = {
            age: str(world.notification("dr", world.event("LAB_RESULT_RECEIVED", at=days_ago(age)), created=NOW))
            for age in (1, 10, 100)  # each arrived just now: the bell is ordered by arrival, not by the event
        }
    default, shorter, longer = worlds
    assert bell(app_client, default) == ({ids[default.org][1], ids[default.org][10]}, 2, 2)
    assert bell(app_client, shorter) == ({ids[shorter.org][1]}, 1, 1)
    assert bell(app_client, longer) == (set(ids[longer.org].values()), 3, 3)


def test_the_feed_and_a_timeline_hide_events_older_than_the_organizations_feed_retention(app_client, worlds):
    default, shorter, _ = worlds
    shown = {}
    for world in (default, shorter):
        world.user("dr", "physician")
        world.on_team("p-1", "dr")
        shown[world.org] = {
            age: str(world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1", at=days_ago(age)))
            for age in (1, 40, 410)
        }
    for world, ages in ((default, (1, 40)), (shorter, (1,))):
        headers = world.headers("dr", "physician")
        feed = app_client.get("/v1/feed?limit=200", headers=headers).json()["items"]
        timeline = app_client.get(f"/v1/patients/{world.uid('p-1')}/timeline?limit=200", headers=headers).json()
        expected = [shown[world.org][age] for age in ages]
        assert [item["event_id"] for item in feed] == expected
        assert [item["event_id"] for item in timeline["items"]] == expected
