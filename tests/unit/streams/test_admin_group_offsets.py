"""Reading a group's committed offsets with a consumer of the group (streams/admin.py): a coordinator
that is loading or moving is asked again until the deadline; any other error is raised at once."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streams.admin import read_committed

PARTS = [TopicPartition("emr.t", 0), TopicPartition("emr.t", 1)]


class FakeReader:
    """Answers ``committed`` with the queued errors first, then with offsets 7 and -1001 (none)."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.calls = 0

    def committed(self, partitions, timeout):
        self.calls += 1
        assert timeout > 0
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return [TopicPartition(partitions[0].topic, 0, 7), TopicPartition(partitions[1].topic, 1, -1001)]


def test_given_a_coordinator_loading_then_moving_then_the_reader_asks_again_and_answers():
    reader = FakeReader(KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.NOT_COORDINATOR)
    assert read_committed(reader, PARTS, timeout_s=5) == {("emr.t", 0): 7, ("emr.t", 1): -1001}
    assert reader.calls == 3


def test_given_another_error_then_it_is_raised_at_once():
    reader = FakeReader(KafkaError.GROUP_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        read_committed(reader, PARTS, timeout_s=5)
    assert reader.calls == 1


def test_given_a_coordinator_that_never_answers_then_the_last_error_is_raised_at_the_deadline():
    reader = FakeReader(*[KafkaError.NOT_COORDINATOR] * 1000)
    started = time.monotonic()
    with pytest.raises(KafkaException) as raised:
        read_committed(reader, PARTS, timeout_s=0.5)
    assert raised.value.args[0].code() == KafkaError.NOT_COORDINATOR
    assert time.monotonic() - started < 1.0


def test_no_partitions_need_no_call():
    assert read_committed(FakeReader(KafkaError.NOT_COORDINATOR), [], timeout_s=1) == {}
