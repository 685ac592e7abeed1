"""``herald dlq replay`` against the real broker: selection, re-runs and concurrent runs replay each record once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from confluent_kafka import KafkaException, Producer

from cli.dlq import read_dlq, replay_dlq, replayed_coordinates, selector
from streams.topics import ACTIVITY, ACTIVITY_DLQ

pytestmark = pytest.mark.integration


def dead_letters(pipeline, n: int) -> None:
    """``n`` records on the activity DLQ as the persister writes them (source coordinates in headers)."""
    producer = Producer({"bootstrap.servers": pipeline.settings.kafka_bootstrap})
    for i in range(n):
        producer.produce(
            pipeline.topic(ACTIVITY_DLQ),
            f"bad-{i}".encode(),
            f"key-{i}".encode(),
            headers=[
                ("herald.error.type", b"DecodeError"),
                ("herald.error.reason", b"unknown framing"),
                ("herald.source.topic", pipeline.topic(ACTIVITY).encode()),
                ("herald.source.partition", b"0"),
                ("herald.source.offset", str(i).encode()),
                ("herald.first-failed-at", b"2025-03-01T12:00:00+00:00"),
                ("trace-id", f"t{i}".encode()),
            ],
        )
    assert producer.flush(30) == 0


def replayed_values(pipeline) -> Counter:
    return Counter(e.value for e in read_dlq(pipeline.settings, pipeline.topic(ACTIVITY)))


def test_given_a_selection_then_only_it_is_replayed_and_a_rerun_replays_the_rest_once(pipeline):
    dead_letters(pipeline, 5)
    dlq = pipeline.topic(ACTIVITY_DLQ)

    picked = replay_dlq(pipeline.settings, dlq, selector(offsets=[1, 3]))
    rest = replay_dlq(pipeline.settings, dlq)
    again = replay_dlq(pipeline.settings, dlq)

    assert [e.offset for e in picked.replayed] == [1, 3]
    assert [e.offset for e in rest.replayed] == [0, 2, 4] and rest.already_replayed == 2
    assert again.replayed == [] and again.already_replayed == 5
    assert replayed_values(pipeline) == Counter(f"bad-{i}".encode() for i in range(5))  # each exactly once
    (first,) = [e for e in read_dlq(pipeline.settings, pipeline.topic(ACTIVITY)) if e.value == b"bad-1"]
    assert first.key == b"key-1" and first.headers["herald.replay.of"] == f"{dlq}/0/1"
    assert first.headers["trace-id"] == "t1" and first.headers["herald.first-failed-at"].startswith("2025-03-01")
    assert not any(k.startswith(("herald.error.", "herald.source.")) for k in first.headers)
    assert len(replayed_coordinates(pipeline.settings)) == 5


def test_given_two_replays_at_once_then_each_record_lands_once(pipeline):
    dead_letters(pipeline, 200)
    dlq, errors = pipeline.topic(ACTIVITY_DLQ), []

    def run():
        try:
            replay_dlq(pipeline.settings, dlq)
        except KafkaException as exc:  # fenced by the other run: its transaction was aborted
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    replay_dlq(pipeline.settings, dlq)  # picks up whatever an aborted run left

    assert replayed_values(pipeline) == Counter(f"bad-{i}".encode() for i in range(200))
