"""Each notifying process reads its own settings class, from the same HERALD_* variables as before."""

from __future__ import annotations

from processors.fanout.settings import FanoutSettings
from processors.reconciler.settings import ReconcilerSettings
from processors.scheduler.settings import SchedulerSettings


def test_each_process_reads_its_own_variables(monkeypatch):
    monkeypatch.setenv("HERALD_EXACTLY_ONCE", "false")
    monkeypatch.setenv("HERALD_SCHEDULER_INTERVAL_S", "2.5")
    monkeypatch.setenv("HERALD_RECONCILER_GRACE_S", "30")
    assert FanoutSettings().exactly_once is False
    assert SchedulerSettings().scheduler_interval_s == 2.5
    assert ReconcilerSettings().reconciler_grace_s == 30


def test_the_defaults_are_the_documented_ones():
    assert (FanoutSettings().exactly_once, FanoutSettings().batch_timeout_s) == (True, 0.1)
    assert SchedulerSettings().scheduler_interval_s == 5.0
    assert (ReconcilerSettings().reconciler_interval_s, ReconcilerSettings().reconciler_grace_s) == (60.0, 300.0)


def test_a_process_does_not_carry_another_ones_settings():
    assert "scheduler_interval_s" not in FanoutSettings.model_fields
    assert "exactly_once" not in SchedulerSettings.model_fields | ReconcilerSettings.model_fields
    assert "reconciler_grace_s" not in SchedulerSettings.model_fields
