"""The broker SIGKILLed under steady load with the whole pipeline running, started again on the same data.

Nothing may be lost or doubled: every published event stored once, every notifying event fanned out,
every decided push delivered; every process back to its steady lag by itself within 60 s of the
broker's return (static members: no rebalance wait), none restarted by hand; and the lag exporter's
figures the broker's own again within 30 s of the return.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import REPS
from tests.faults.pipeline import exporter_matches_broker
from tests.faults.scenario import (
    assert_back_to_steady,
    assert_no_push_lost,
    assert_nothing_lost_or_doubled,
    report,
    run_fault,
)

pytestmark = pytest.mark.faults
DOWN_S = 12.0  # plus the broker's own restart (~15 s until both coordinators answer): ~25-30 s down
EXPORTER_LIMIT_S = 30.0


@pytest.fixture(scope="module")
def runs(fault_pipeline):
    ok, detail = exporter_matches_broker(fault_pipeline)
    assert ok, f"before any fault the lag exporter already differs from the broker: {detail}"
    kafka = fault_pipeline.kafka
    out = []
    for rep in range(1, REPS + 1):
        run = run_fault(
            fault_pipeline,
            "broker SIGKILL",
            rep,
            kafka.kill,
            kafka.start,
            DOWN_S,
            probe=lambda back_at: exporter_matches_broker(fault_pipeline),
            probe_timeout_s=90,
        )
        report(run.line("lag exporter correct after"))
        out.append(run)
    return out


def test_no_event_lost_or_duplicated(runs):
    assert_nothing_lost_or_doubled(runs)


def test_no_push_lost(runs):
    assert_no_push_lost(runs)


def test_every_process_back_to_steady_lag_by_itself(runs):
    assert_back_to_steady(runs)


def test_lag_exporter_correct_again_within_30s(runs):
    for run in runs:
        assert run.probe_s is not None and run.probe_s <= EXPORTER_LIMIT_S, run.line("lag exporter correct after")
