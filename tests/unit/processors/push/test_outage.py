"""When FCM counts as down, how long the sender waits per error class, and when it probes again."""

from __future__ import annotations

import random

import pytest

from processors.push.outage import FcmOutage, OutageClass, OutagePolicy, batch_class
from sinks.fcm.results import SendResult

OK = SendResult(message_id="projects/p/messages/1")
REFUSED = SendResult(code="UNKNOWN")  # no HTTP answer
UNAVAILABLE = SendResult(code="UNAVAILABLE", http_status=503)
INTERNAL = SendResult(code="INTERNAL", http_status=500)
UNREGISTERED = SendResult(code="UNREGISTERED", http_status=404)


def quota(retry_after: float | None = None) -> SendResult:
    return SendResult(code="QUOTA_EXCEEDED", http_status=429, retry_after_s=retry_after)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "results, cls",
    [
        ([], None),
        ([REFUSED] * 3, OutageClass.UNREACHABLE),
        ([REFUSED, UNAVAILABLE, INTERNAL], OutageClass.SERVER),
        ([UNAVAILABLE, quota(2)], OutageClass.QUOTA),
        ([REFUSED, OK], None),  # FCM answered one: it is up
        ([UNAVAILABLE, UNREGISTERED], None),  # an answer about a token is an answer
    ],
)
def test_batch_class(results, cls):
    assert batch_class(results) is cls


def test_given_fcm_unreachable_then_probes_come_at_most_2_s_apart_however_long_it_lasts():
    outage = FcmOutage(rng=random.Random(1))

    waits = [outage.observe([REFUSED] * 50)] + [outage.probe_failed([REFUSED]) for _ in range(40)]

    assert outage.open and outage.cls is OutageClass.UNREACHABLE
    assert max(waits) <= 2.0 and waits[0] <= 0.5  # the shared backoff had grown to 30-60 s by then
    assert sum(waits) > 30  # still backing off: not a busy loop


def test_given_server_errors_then_an_outage_only_after_enough_in_a_row():
    outage = FcmOutage(OutagePolicy(open_after_sends=10))

    assert outage.observe([UNAVAILABLE] * 4) is None  # a few 503s: per-request retries handle them
    assert outage.observe([OK, UNAVAILABLE]) is None  # an answered send resets the run
    assert outage.observe([UNAVAILABLE] * 9) is None
    wait = outage.observe([INTERNAL])

    assert wait is not None and wait <= 2.0 and outage.cls is OutageClass.SERVER


def test_given_quota_spent_then_the_wait_is_fcms_retry_after_and_not_a_short_probe():
    outage = FcmOutage(OutagePolicy(open_after_sends=2))

    assert outage.observe([quota(30)] * 2) == 30.0
    assert outage.probe_failed([quota(12)]) == 12.0
    without_header = outage.probe_failed([quota()])
    assert 2.5 <= without_header <= 60.0  # backoff from quota_base_s, not the 2 s probe cap


def test_given_each_class_then_its_own_backoff():
    outage = FcmOutage(OutagePolicy(probe_base_s=1.0, probe_cap_s=100.0), rng=random.Random(3))
    outage.observe([REFUSED])
    for _ in range(5):
        outage.probe_failed([REFUSED])  # unreachable's backoff grows to 32 s...

    first_server_wait = outage.probe_failed([UNAVAILABLE])

    assert first_server_wait <= 1.0  # ...server errors start their own at the base


def test_given_the_probe_is_answered_then_the_outage_closes_with_its_length():
    clock = Clock()
    outage = FcmOutage(clock=clock)
    outage.observe([REFUSED])
    clock.now = 36.0

    assert outage.recovered() == 36.0
    assert not outage.open and outage.cls is None
    assert outage.observe([UNAVAILABLE]) is None  # the run of failures starts again from zero
