"""When FCM as a whole is failing, and how soon to try it again: pure, per error class, with one probe.

A batch whose every send failed for a reason that is FCM's and not the message's is evidence of an
outage. Its class decides the wait before the next try:

* ``unreachable``: no HTTP answer at all (connection refused, reset, timed out). One such batch is
  enough: nothing answered.
* ``server``: UNAVAILABLE, INTERNAL or another 5xx, for ``open_after_sends`` sends in a row (a few such
  answers for single messages are ordinary and go to the retry table, one request at a time).
* ``quota``: QUOTA_EXCEEDED (429) for that many sends in a row: the project's quota is spent, so the
  wait is FCM's Retry-After when it gives one (probing sooner only spends more of it).

While an outage lasts, the sender sends no batch: it sends the batch's first message alone (the
probe) and rewinds the batch if that fails too. Unreachable and server outages are probed after
``compute_backoff`` capped at ``probe_cap_s`` (2 s), so the first push goes out within a few seconds
of FCM's return; one shared, uncapped backoff (60 s) had kept the sender idle ~40 s after it.
Requests keep their attempt budget during an outage: a rewound batch is not an attempt.

docs/decisions/0112-fcm-outage-probes.md
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable

from sinks.fcm.results import SendResult
from streams.retry import compute_backoff

QUOTA_CODES = frozenset({"QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"})
SERVER_CODES = frozenset({"UNAVAILABLE", "INTERNAL"})


class OutageClass(StrEnum):
    UNREACHABLE = "unreachable"
    SERVER = "server"
    QUOTA = "quota"


def outage_class_of(result: SendResult) -> OutageClass | None:
    """What one send says about FCM as a whole: None when it was answered for the message itself
    (success, or an error about that message or token): FCM is up."""
    if result.ok:
        return None
    if result.http_status is None:
        return OutageClass.UNREACHABLE
    if result.code in QUOTA_CODES or result.http_status == 429:
        return OutageClass.QUOTA
    if result.code in SERVER_CODES or result.http_status >= 500:
        return OutageClass.SERVER
    return None


def batch_class(results: Sequence[SendResult]) -> OutageClass | None:
    """The outage a batch's results show, None unless every send failed for FCM's own reason. Mixed
    classes count as the one with the longest wait: quota over server over unreachable."""
    classes = [outage_class_of(r) for r in results]
    if not classes or None in classes:
        return None
    for cls in (OutageClass.QUOTA, OutageClass.SERVER):
        if cls in classes:
            return cls
    return OutageClass.UNREACHABLE


@dataclass(frozen=True)
class OutagePolicy:
    open_after_sends: int = 10  # server/quota answers in a row that make an outage
    probe_base_s: float = 0.5
    probe_cap_s: float = 2.0  # the longest FCM can be back before a probe notices
    quota_base_s: float = 5.0  # quota spent and no Retry-After: back off from here...
    quota_cap_s: float = 60.0  # ...up to this


class FcmOutage:
    """The sender's view of FCM: ``observe`` each batch's results while closed; while ``open``, one
    probe per batch, ``probe_failed`` or ``recovered``. Each method that finds FCM down returns the
    seconds to wait before the next probe."""

    def __init__(
        self,
        policy: OutagePolicy = OutagePolicy(),
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._policy, self._clock, self._rng = policy, clock, rng
        self._in_a_row = 0  # sends failed for FCM's reasons since the last answered one
        self._waits: Counter[OutageClass] = Counter()  # waits so far in this outage, per class
        self._since: float | None = None
        self.cls: OutageClass | None = None

    @property
    def open(self) -> bool:
        return self._since is not None

    def observe(self, results: Sequence[SendResult]) -> float | None:
        """A batch sent while FCM was thought up: the wait when it shows an outage (which opens), else None."""
        cls = batch_class(results)
        if cls is None:
            self._in_a_row = 0
            return None
        self._in_a_row += len(results)
        if cls is not OutageClass.UNREACHABLE and self._in_a_row < self._policy.open_after_sends:
            return None
        self._since = self._clock()
        return self._wait(cls, results)

    def probe_failed(self, results: Sequence[SendResult]) -> float:
        """The probe failed too: the wait before the next one, by the class it failed with."""
        return self._wait(batch_class(results) or OutageClass.UNREACHABLE, results)

    def recovered(self) -> float:
        """The probe was answered: closes the outage; returns how long it lasted (seconds)."""
        took = self._clock() - self._since if self._since is not None else 0.0
        self._since, self.cls, self._in_a_row = None, None, 0
        self._waits.clear()
        return took

    def _wait(self, cls: OutageClass, results: Sequence[SendResult]) -> float:
        self.cls = cls
        self._waits[cls] += 1
        n, p = self._waits[cls], self._policy
        if cls is OutageClass.QUOTA:
            retry_after = max((r.retry_after_s or 0.0 for r in results), default=0.0)
            if retry_after > 0:
                return retry_after
            return compute_backoff(n, base=p.quota_base_s, cap=p.quota_cap_s, jitter=True, rng=self._rng)
        return compute_backoff(n, base=p.probe_base_s, cap=p.probe_cap_s, jitter=True, rng=self._rng)
