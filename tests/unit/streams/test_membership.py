"""Consumer group membership from settings (streams.app.membership): static only with an instance id."""
from __future__ import annotations

from streams.app import membership
from streams.settings import KafkaSettings, PersisterSettings


def test_given_an_instance_id_then_the_consumer_is_a_static_member_under_it():
    config = membership(PersisterSettings(instance_id="persister-0", session_timeout_ms=30_000))
    assert config["group.instance.id"] == "persister-0"
    assert config["session.timeout.ms"] == 30_000


def test_members_heartbeat_every_second_so_a_rebalance_round_is_noticed_within_one():
    assert membership(PersisterSettings())["heartbeat.interval.ms"] == 1_000
    assert membership(PersisterSettings(session_timeout_ms=45_000))["heartbeat.interval.ms"] == 1_000


def test_given_no_instance_id_then_membership_is_dynamic():
    config = membership(PersisterSettings())
    assert "group.instance.id" not in config
    assert config["session.timeout.ms"] == PersisterSettings().session_timeout_ms


def test_settings_without_a_runtime_change_nothing():
    assert membership(KafkaSettings()) == {}
