"""The describe process: its failures reach the parent as DescribeFailed, whether it answers with
an error or dies (as librdkafka's abort would kill it); the parent lives on. No broker: a closed port."""

from __future__ import annotations

import socket

import pytest

from processors.lag_exporter.describer import DescribeFailed, GroupDescriber


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def describer():
    made = GroupDescriber(f"127.0.0.1:{closed_port()}", timeout_s=0.5)
    yield made
    made.close()


def test_given_no_broker_then_describe_fails_with_the_childs_error_and_the_describer_is_spent(describer):
    with pytest.raises(DescribeFailed, match="KafkaException|TimeoutError|Timed out"):
        describer.describe(["herald-a"])
    assert describer.broken
    with pytest.raises(DescribeFailed, match="already failed"):
        describer.describe(["herald-a"])


def test_given_the_child_dies_then_describe_fails_and_the_parent_lives(describer):
    describer._process.kill()  # what an abort inside librdkafka does to it
    describer._process.join(5)
    with pytest.raises(DescribeFailed, match="died"):
        describer.describe(["herald-a"])
    assert describer.broken


def test_nothing_to_describe_needs_no_child_answer(describer):
    assert describer.describe([]) == {}
