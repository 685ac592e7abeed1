"""Postgres stopped at once (``pg_ctl stop -m immediate``: every connection cut, no checkpoint) under
steady load with the whole pipeline running, then started again (crash recovery on start).

Nothing may be lost or doubled, and every process must be back to its steady lag by itself within
60 s of the database's return, none restarted by hand.
"""
from __future__ import annotations

import pytest

from tests.faults.conftest import REPS
from tests.faults.scenario import RECOVERY_LIMIT_S, report, run_fault

pytestmark = pytest.mark.faults
DOWN_S = 20.0


@pytest.fixture(scope="module")
def runs(fault_pipeline, fault_postgres):
    out = []
    for rep in range(1, REPS + 1):
        run = run_fault(fault_pipeline, "Postgres immediate stop", rep, fault_postgres.stop_immediate,
                        fault_postgres.start, DOWN_S)
        report(run.line())
        out.append(run)
    return out


def test_no_event_lost_or_duplicated(runs):
    for run in runs:
        a = run.audit
        assert (a.unacknowledged, a.events_lost, a.duplicate_rows, a.fanout_lost) == (0, 0, 0, 0), run.line()


def test_no_push_lost(runs):
    for run in runs:
        assert run.audit.pushes_expected > 0, run.line()
        assert (run.audit.pushes_lost, run.audit.pushes_pending) == (0, 0), run.line()


def test_every_process_back_to_steady_lag_by_itself(runs):
    for run in runs:
        late = {n: s for n, s in run.recovery_s.items() if s is None or s > RECOVERY_LIMIT_S}
        assert not late and not run.not_running and not run.errors, run.line()
