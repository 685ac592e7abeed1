"""``herald topics sync`` and ``topics create`` against the real broker: a topic made with older configs
gets the spec's, a shorter retention waits for an explicit yes, keys Herald does not manage stay."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from typer.testing import CliRunner

from cli.main import app
from cli.processes import wait_until
from streams.admin import create_topics, delete_topics
from streams.clients import build_admin
from streams.settings import KafkaSettings
from streams.topic_configs import config_drift, sync_topic_configs
from streams.topics import ACTIVITY, DAY_MS, DIRECTORY, TopicSpec, topic_specs

pytestmark = pytest.mark.integration
WEEK_MS = str(7 * DAY_MS)


@pytest.fixture
def old_topics(services):
    """The activity and directory topics as ``topics create`` made them before retention was sized,
    and a key set by hand that no spec names."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap, topic_prefix=f"{prefix}.")
    admin = build_admin(settings)
    old = [TopicSpec(ACTIVITY, 2, {"retention.ms": WEEK_MS}), TopicSpec(DIRECTORY, 1, {"cleanup.policy": "compact"})]
    create_topics(admin, settings, old)
    hand_set = ConfigEntry("max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, settings.topic(ACTIVITY), incremental_configs=[hand_set])
    admin.incremental_alter_configs([resource])[resource].result(20)
    yield settings, admin
    delete_topics(admin, settings, topic_specs())


def configs(admin, topic: str) -> dict[str, str]:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    return {k: e.value for k, e in admin.describe_configs([resource])[resource].result(20).items()}


def settled(admin, settings, specs) -> bool:
    """The broker describes the spec's values (an alteration reaches describe a moment after it returns)."""
    return config_drift(admin, settings, specs)[0] == {}


def test_given_topics_with_older_configs_when_synced_then_they_get_the_specs_and_keep_other_keys(old_topics):
    settings, admin = old_topics
    specs = [s for s in topic_specs(2) if s.base in (ACTIVITY, DIRECTORY)]
    assert set(config_drift(admin, settings, specs)[0]) == {settings.topic(ACTIVITY), settings.topic(DIRECTORY)}

    report = sync_topic_configs(admin, settings, specs)

    assert report.refused == {}
    wait_until(lambda: settled(admin, settings, specs), 30, interval=0.2, what="the spec's configs")
    activity, directory = configs(admin, settings.topic(ACTIVITY)), configs(admin, settings.topic(DIRECTORY))
    assert activity["retention.ms"] == str(400 * DAY_MS) and activity["segment.ms"] == str(DAY_MS)
    assert activity["max.message.bytes"] == "2000000"  # set by hand, named by no spec: untouched
    assert directory["cleanup.policy"] == "compact" and directory["delete.retention.ms"] == WEEK_MS
    assert directory["min.cleanable.dirty.ratio"] == "0.1" and directory["segment.ms"] == str(DAY_MS)
    assert sync_topic_configs(admin, settings, specs).applied == {}  # nothing left to do


def test_a_shorter_retention_is_refused_until_allowed(old_topics):
    settings, admin = old_topics
    specs = [s for s in topic_specs(2, activity_retention_days=3) if s.base == ACTIVITY]

    refused = sync_topic_configs(admin, settings, specs)

    assert [c.key for c in refused.refused[settings.topic(ACTIVITY)]] == ["retention.ms"]
    wait_until(lambda: configs(admin, settings.topic(ACTIVITY))["segment.ms"] == str(DAY_MS), 30, interval=0.2)
    assert configs(admin, settings.topic(ACTIVITY))["retention.ms"] == WEEK_MS  # kept
    sync_topic_configs(admin, settings, specs, allow_shorter=True)
    wait_until(lambda: configs(admin, settings.topic(ACTIVITY))["retention.ms"] == str(3 * DAY_MS), 30, interval=0.2)


def test_the_commands_name_the_drift_then_sync_it(old_topics):
    settings, admin = old_topics
    env = {"HERALD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "HERALD_TOPIC_PREFIX": settings.topic_prefix}
    runner = CliRunner()

    created = runner.invoke(app, ["topics", "create", "--partitions", "2"], env=env, catch_exceptions=False)
    dry = runner.invoke(app, ["topics", "sync", "--partitions", "2", "--dry-run"], env=env, catch_exceptions=False)
    synced = runner.invoke(app, ["topics", "sync", "--partitions", "2"], env=env, catch_exceptions=False)

    activity = settings.topic(ACTIVITY)
    assert f"{activity}: exists" in created.output and f"{activity}: configs differ from the spec" in created.output
    assert f"{activity}: would set retention.ms {WEEK_MS} -> {400 * DAY_MS}" in dry.output
    assert f"{activity}: set retention.ms" in synced.output
    wait_until(lambda: settled(admin, settings, topic_specs(2)), 30, interval=0.2, what="every topic synced")
