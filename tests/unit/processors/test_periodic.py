"""A periodic job's readiness follows its ticks: failing ticks in a row make it not ready."""

from __future__ import annotations

import threading

from processors.periodic import Beat, tick_until_stopped, ticks_succeed


def run_ticks(outcomes: list) -> Beat:
    """Runs ``tick_until_stopped`` over ``outcomes`` (an exception to raise, or a bool), then stops."""
    stop, beat, left = threading.Event(), Beat(), list(outcomes)

    def tick() -> bool:
        outcome = left.pop(0)
        if not left:
            stop.set()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    tick_until_stopped(tick, 0.0, stop, beat, "job")
    return beat


def test_three_failed_ticks_in_a_row_make_the_job_not_ready_with_the_first_line_of_the_error():
    beat = run_ticks([RuntimeError("db gone\nDETAIL: row (Jane)")] * 3)

    verdict = ticks_succeed(beat, 3)()

    assert not verdict.ok and "3 ticks failed in a row" in verdict.detail and "db gone" in verdict.detail
    assert "Jane" not in verdict.detail


def test_a_tick_that_succeeds_makes_it_ready_again():
    beat = run_ticks([RuntimeError("x")] * 3 + [False])

    assert ticks_succeed(beat, 3)().ok


def test_a_job_given_a_wait_pauses_with_it_after_a_tick_and_with_retry_in_after_a_failure():
    stop, beat = threading.Event(), Beat()
    outcomes, waits, retries = [False, RuntimeError("down"), RuntimeError("down"), True, False], [], []

    def tick() -> bool:
        outcome = outcomes.pop(0)
        if not outcomes:
            stop.set()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def retry_in(failures: int) -> float:
        retries.append(failures)
        return 0.0

    tick_until_stopped(tick, 7.0, stop, beat, "job", wait=waits.append, retry_in=retry_in)

    assert retries == [1, 2]  # the pause after each failure grows with the failures in a row
    assert waits == [7.0, 7.0]  # after the idle ticks only: not after failures, not after a full batch
