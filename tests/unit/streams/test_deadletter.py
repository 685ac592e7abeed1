"""Dead-letter records: extra headers from the processor, and which first-failure time wins."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from streams.deadletter import H_FIRST_FAILED, to_output
from streams.records import DeadLetter
from streams.testing import FakeMessage

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "original, extra, first",
    [
        ([], [], NOW.isoformat().encode()),
        ([], [(H_FIRST_FAILED, b"2025-02-01")], b"2025-02-01"),  # the processor's own first failure
        (
            [(H_FIRST_FAILED, b"2025-01-01")],
            [(H_FIRST_FAILED, b"2025-02-01")],
            b"2025-01-01",
        ),  # a replayed record's wins
    ],
)
def test_first_failure_time(original, extra, first):
    msg = FakeMessage("push", 0, 5, b"v", b"k", original)

    out = to_output(DeadLetter("r", "PushPermanentError", msg, tuple(extra)), "push.dlq", now=NOW)

    assert [v for k, v in out.headers if k == H_FIRST_FAILED] == [first]


def test_extra_headers_are_added_and_replace_stale_ones_of_the_same_name():
    msg = FakeMessage(
        "push", 1, 9, b"v", b"k", [("herald.push.attempts", b"3"), ("trace", b"t1"), ("herald.error.reason", b"old")]
    )

    out = to_output(
        DeadLetter("new", "PushRetriesExhausted", msg, (("herald.push.attempts", b"6"),)), "push.dlq", now=NOW
    )
    h = out.headers

    assert [v for k, v in h if k == "herald.push.attempts"] == [b"6"]
    assert [v for k, v in h if k == "herald.error.reason"] == [b"new"]
    assert ("trace", b"t1") in h and (out.key, out.value, out.topic) == (b"k", b"v", "push.dlq")


def test_the_rejecting_group_is_named_and_a_replays_addressee_is_not_carried_over():
    msg = FakeMessage(
        "activity",
        2,
        7,
        b"v",
        b"k",
        [
            ("herald.replay.for", b"herald-fanout"),
            ("herald.consumer.group", b"herald-fanout"),
            ("herald.replay.of", b"dlq/0/3"),
        ],
    )

    out = to_output(DeadLetter("bad", "DecodeError", msg), "dlq", now=NOW, group="herald-persister")

    assert [v for k, v in out.headers if k == "herald.consumer.group"] == [b"herald-persister"]
    assert "herald.replay.for" not in dict(out.headers)
    assert dict(out.headers)["herald.replay.of"] == b"dlq/0/3"  # where the failed replay came from


def test_without_a_group_no_group_header():
    out = to_output(DeadLetter("bad", "DecodeError", FakeMessage("activity", 0, 1, b"v", b"k")), "dlq", now=NOW)

    assert "herald.consumer.group" not in dict(out.headers)
