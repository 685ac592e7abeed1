"""Settings from HERALD_* env vars: defaults for the local stack, prefixes, frozen and validated."""

from __future__ import annotations

import pydantic
import pytest

from processors.persister.settings import PersisterSettings
from streams.settings import KafkaSettings


def test_defaults_point_at_the_local_stack(monkeypatch):
    for var in ("HERALD_KAFKA_BOOTSTRAP", "HERALD_DATABASE_URL", "HERALD_TOPIC_PREFIX", "HERALD_GROUP_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    s = PersisterSettings()
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.database_url == "postgresql+psycopg://herald@127.0.0.1:5432/herald"
    assert s.topic("activity-events.v1") == "emr.activity-events.v1"
    assert s.group("persister") == "herald-persister"


def test_prefixes_come_from_env_so_pipelines_can_share_a_broker(monkeypatch):
    monkeypatch.setenv("HERALD_TOPIC_PREFIX", "bench1.")
    monkeypatch.setenv("HERALD_GROUP_PREFIX", "bench1-")
    s = KafkaSettings()
    assert (s.topic("directory.v1"), s.group("fanout")) == ("bench1.directory.v1", "bench1-fanout")


def test_settings_are_frozen_and_validated(monkeypatch):
    monkeypatch.setenv("HERALD_METRICS_PORT", "70000")
    with pytest.raises(pydantic.ValidationError, match="metrics_port"):
        PersisterSettings()
    monkeypatch.delenv("HERALD_METRICS_PORT")
    with pytest.raises(pydantic.ValidationError):
        PersisterSettings().kafka_bootstrap = "elsewhere:9092"
