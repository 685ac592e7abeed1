"""The loop's batching from settings (streams.app.loop_config)."""

from __future__ import annotations

import pytest

from processors.fanout.settings import FanoutSettings
from processors.persister.settings import PersisterSettings
from processors.push.settings import PushSenderSettings
from streams.app import commit_interval_s, loop_config


@pytest.mark.parametrize(
    "settings, eager", [(PushSenderSettings(), True), (FanoutSettings(), False), (PersisterSettings(), False)]
)
def test_only_the_push_sender_takes_queued_records_without_waiting_by_default(settings, eager):
    assert loop_config(settings, pipelined=True).eager is eager


def test_given_eager_batches_set_then_any_processor_takes_queued_records_at_once(monkeypatch):
    monkeypatch.setenv("HERALD_EAGER_BATCHES", "true")
    assert loop_config(FanoutSettings()).eager is True
    monkeypatch.setenv("HERALD_EAGER_BATCHES", "false")
    assert loop_config(PushSenderSettings()).eager is False


def test_pipelined_needs_both_the_processor_and_the_setting(monkeypatch):
    assert loop_config(PersisterSettings(batch_timeout_s=0.2), pipelined=True).pipelined is True
    assert loop_config(PersisterSettings(), pipelined=False).pipelined is False
    monkeypatch.setenv("HERALD_PIPELINED", "false")
    config = loop_config(PersisterSettings(batch_timeout_s=0.2), pipelined=True)
    assert config.pipelined is False and config.batch_timeout_s == 0.2 and config.batch_max_records == 20_000


def test_the_fan_out_waits_longer_for_a_batch_than_the_other_processors_by_default():
    assert loop_config(FanoutSettings()).batch_timeout_s == 2 * loop_config(PersisterSettings()).batch_timeout_s
    assert loop_config(PushSenderSettings()).batch_timeout_s == loop_config(PersisterSettings()).batch_timeout_s


def test_given_a_batch_timeout_set_then_the_fan_out_takes_it(monkeypatch):
    monkeypatch.setenv("HERALD_BATCH_TIMEOUT_S", "0.05")
    assert loop_config(FanoutSettings()).batch_timeout_s == 0.05


def test_plain_offset_commits_are_held_a_second_by_default_and_the_setting_changes_it(monkeypatch):
    assert commit_interval_s(PersisterSettings()) == 1.0
    monkeypatch.setenv("HERALD_COMMIT_INTERVAL_MS", "0")
    assert commit_interval_s(PushSenderSettings()) == 0.0


def test_the_loop_has_no_default_of_its_own_for_a_setting():
    from streams.runtime import LoopConfig
    from streams.settings import RuntimeSettings

    with pytest.raises(TypeError):
        LoopConfig()  # type: ignore[call-arg]
    config = loop_config(RuntimeSettings(batch_max_records=7, stall_timeout_s=5.0, shutdown_timeout_s=2.0))
    assert (config.batch_max_records, config.stall_timeout_s, config.shutdown_timeout_s) == (7, 5.0, 2.0)
