"""The FCM emulator down for 30 s under steady load: pushes fail to connect, are retried, and all go
out once it is back; the first push succeeds within 5 s of its return (new pushes are not stuck behind
the backlog of retries)."""

from __future__ import annotations

import pytest

from tests.faults.conftest import REPS
from tests.faults.scenario import report, run_fault

pytestmark = pytest.mark.faults
DOWN_S = 30.0
FIRST_PUSH_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def runs(fault_pipeline, fault_fcm):
    def first_push(back_at: float) -> tuple[bool, str]:
        accepted = len(fault_fcm.messages())  # the restarted emulator starts with an empty record
        return accepted > 0, f"{accepted} accepted"

    out = []
    for rep in range(1, REPS + 1):
        run = run_fault(
            fault_pipeline,
            "FCM emulator down",
            rep,
            fault_fcm.stop,
            fault_fcm.start,
            DOWN_S,
            probe=first_push,
            probe_timeout_s=60,
        )
        report(run.line("first push delivered after"))
        out.append(run)
    return out


def test_every_push_delivered(runs):
    for run in runs:
        a = run.audit
        assert a.pushes_expected > 0, run.line()
        assert (a.events_lost, a.fanout_lost, a.pushes_lost, a.pushes_pending) == (0, 0, 0, 0), run.line()
        assert not run.errors and not run.not_running, run.line()


def test_pushes_resume_within_5s_of_the_return(runs):
    for run in runs:
        assert run.probe_s is not None and run.probe_s <= FIRST_PUSH_LIMIT_S, run.line("first push delivered after")
