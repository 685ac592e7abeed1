"""Retry policy as data plus a pure function (dramatiq ``common.compute_backoff``)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before attempt ``n`` and when to give up."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 8
    jitter: bool = True


def compute_backoff(attempt: int, *, base: float, cap: float, jitter: bool, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): base·2^(n-1), capped.

    With ``jitter`` the wait is drawn uniformly from [wait/2, wait] ("equal jitter"), so retrying
    replicas spread out but never retry sooner than half the nominal delay.
    """
    wait = min(cap, base * 2.0 ** max(attempt - 1, 0))
    if not jitter:
        return wait
    return (rng or random).uniform(wait / 2, wait)
