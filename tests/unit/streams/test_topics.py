"""Topic specs: the push topic is sized apart from the activity topic."""

from __future__ import annotations

from streams.topics import ACTIVITY, PUSH, PUSH_PARTITIONS, topic_specs


def partitions(specs) -> dict[str, int]:
    return {s.base: s.partitions for s in specs}


def test_the_push_topic_has_fewer_partitions_than_the_activity_topic_by_default():
    sized = partitions(topic_specs())

    assert sized[ACTIVITY] == 12 and sized[PUSH] == PUSH_PARTITIONS < 12


def test_the_push_partitions_follow_a_smaller_activity_topic_or_an_explicit_count():
    assert partitions(topic_specs(partitions=2))[PUSH] == 2
    assert partitions(topic_specs(partitions=12, push_partitions=24))[PUSH] == 24


def test_every_input_topic_has_a_dead_letter_topic_of_its_own_that_topics_create_makes():
    from streams.topics import DIRECTORY, DIRECTORY_DLQ, DLQ_OF

    made = partitions(topic_specs())

    assert DLQ_OF[DIRECTORY] == DIRECTORY_DLQ == "directory.dlq.v1"
    assert len(set(DLQ_OF.values())) == len(DLQ_OF)  # no stage's rejects land among another's
    assert all(dlq in made for dlq in DLQ_OF.values())
