"""Postgres stopped at once (``pg_ctl stop -m immediate``: every connection cut, no checkpoint) under
steady load with the whole pipeline running, then started again (crash recovery on start).

Nothing may be lost or doubled, and every process must be back to its steady lag by itself within
60 s of the database's return, none restarted by hand.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import REPS
from tests.faults.scenario import (
    assert_back_to_steady,
    assert_no_push_lost,
    assert_nothing_lost_or_doubled,
    report,
    run_fault,
)

pytestmark = pytest.mark.faults
DOWN_S = 20.0


@pytest.fixture(scope="module")
def runs(fault_pipeline, fault_postgres):
    out = []
    for rep in range(1, REPS + 1):
        run = run_fault(
            fault_pipeline, "Postgres immediate stop", rep, fault_postgres.stop_immediate, fault_postgres.start, DOWN_S
        )
        report(run.line())
        out.append(run)
    return out


def test_no_event_lost_or_duplicated(runs):
    assert_nothing_lost_or_doubled(runs)


def test_no_push_lost(runs):
    assert_no_push_lost(runs)


def test_every_process_back_to_steady_lag_by_itself(runs):
    assert_back_to_steady(runs)
