"""``herald dlq replay`` addresses a replayed record to the group that dead-lettered it (cli/dlq.py)."""

from __future__ import annotations

from cli.dlq import DlqEntry, replay_headers, selector
from streams.deadletter import headers_dict


def entry(raw: list[tuple[str, bytes]]) -> DlqEntry:
    return DlqEntry(0, 4, b"k", 1, headers_dict(raw), b"v", raw)


FAILED = [
    ("herald.error.type", b"DecodeError"),
    ("herald.error.reason", b"r"),
    ("herald.source.topic", b"t.activity"),
    ("herald.source.partition", b"2"),
    ("herald.source.offset", b"9"),
    ("trace-id", b"t1"),
]


def test_the_replay_is_for_the_group_that_rejected_it_and_nothing_of_the_failure_is_kept():
    raw = FAILED + [
        ("herald.consumer.group", b"herald-fanout"),
        ("herald.replay.for", b"herald-persister"),
        ("herald.replay.of", b"dlq/0/1"),
    ]

    headers = replay_headers(entry(raw), "dlq/0/4")

    assert headers == [("trace-id", b"t1"), ("herald.replay.of", b"dlq/0/4"), ("herald.replay.for", b"herald-fanout")]


def test_a_dead_letter_without_a_group_replays_to_every_group():
    assert dict(replay_headers(entry(FAILED), "dlq/0/4")) == {"trace-id": b"t1", "herald.replay.of": b"dlq/0/4"}


def test_replay_can_select_one_groups_dead_letters():
    fanout, persister = (
        entry(FAILED + [("herald.consumer.group", b"herald-fanout")]),
        entry(FAILED + [("herald.consumer.group", b"herald-persister")]),
    )

    pick = selector(group="herald-fanout")

    assert pick(fanout) and not pick(persister) and not pick(entry(FAILED))
