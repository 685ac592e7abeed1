"""Consumer settings from processor settings: group membership (streams.app.membership; static only
with an instance id) and fetching (streams.app.fetching)."""

from __future__ import annotations

from processors.directory.settings import DirectorySettings
from processors.fanout.settings import FanoutSettings
from processors.persister.settings import PersisterSettings
from processors.push.settings import PushSenderSettings
from streams.app import fetching, membership
from streams.clients import consumer_config


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


def test_the_push_sender_and_the_directory_fetch_at_the_first_byte_the_others_every_20_ms_or_256_kb():
    push, directory, fanout = fetching(PushSenderSettings()), fetching(DirectorySettings()), fetching(FanoutSettings())
    assert (push["fetch.min.bytes"], push["fetch.wait.max.ms"]) == (1, 500)
    assert directory == push
    assert (fanout["fetch.min.bytes"], fanout["fetch.wait.max.ms"]) == (262_144, 20)
    assert consumer_config(PushSenderSettings(), "push-sender", **push)["fetch.min.bytes"] == 1


def test_given_fetch_settings_in_the_environment_then_they_apply(monkeypatch):
    monkeypatch.setenv("HERALD_FETCH_MIN_BYTES", "65536")
    monkeypatch.setenv("HERALD_FETCH_WAIT_MAX_MS", "50")
    assert fetching(PushSenderSettings()) == {"fetch.min.bytes": 65_536, "fetch.wait.max.ms": 50}
