"""Dead letters per stage, with fakes: each names its consumer group; a replay reaches only the group it is
for; the records a sink refuses are dead-lettered with the batch (streams/replays.py, streams/checkpoint.py)."""

from __future__ import annotations

from streams.checkpoint import Checkpoint
from streams.decoder import Decoder
from streams.messages import ActivityEvent
from streams.metrics import RuntimeHooks
from streams.records import DeadLetter, Outcome
from streams.replays import REPLAYS_SKIPPED, for_group
from streams.runtime import Runtime
from streams.testing import FakeConsumer, FakeMessage, FakeProducer, ListSink, default_loop_config
from tests.unit.streams.test_runtime import DLQ, SERDE, TOPIC, Collect, event_bytes

PERSISTER, FANOUT = "herald-persister", "herald-fanout"


def run(group: str, batch, sink=None):
    journal: list = []
    consumer, producer = FakeConsumer([batch], journal=journal), FakeProducer(journal=journal)
    sink = sink or ListSink()
    sink.journal = journal
    checkpoint = Checkpoint(consumer=consumer, producer=producer, sink=sink, dlq_topic_of=lambda t: DLQ, group=group)
    runtime = Runtime(
        consumer=consumer,
        topics=[TOPIC],
        decode=for_group(Decoder(SERDE, ActivityEvent.from_avro), group),
        processor=Collect(),
        checkpoint=checkpoint,
        hooks=RuntimeHooks("collect", group),
        config=default_loop_config(),
    )
    consumer.on_empty = runtime.stop
    runtime.run()
    return sink, producer, journal


def replay(offset: int, value: bytes, group: str | None) -> FakeMessage:
    headers = [("herald.replay.of", b"dlq/0/0")] + ([("herald.replay.for", group.encode())] if group else [])
    return FakeMessage(TOPIC, 0, offset, value, b"k", headers)


def skipped(group: str) -> float:
    return REPLAYS_SKIPPED.labels(group, TOPIC)._value.get()


def test_a_bad_record_is_dead_lettered_with_the_group_of_the_stage_that_rejected_it():
    batch = [FakeMessage(TOPIC, 0, o, event_bytes(o)) for o in range(3)] + [FakeMessage(TOPIC, 0, 3, b"junk", b"k")]

    for group in (PERSISTER, FANOUT):
        sink, producer, _ = run(group, batch)

        (dead,) = producer.produced
        assert dict(dead[3])["herald.consumer.group"] == group.encode()
        assert len(sink.batches[0]) == 3


def test_a_replay_for_another_group_is_skipped_committed_and_counted():
    before = skipped(FANOUT)
    batch = [
        FakeMessage(TOPIC, 0, 0, event_bytes(0)),
        replay(1, event_bytes(1), PERSISTER),
        replay(2, b"junk", PERSISTER),
        FakeMessage(TOPIC, 0, 3, event_bytes(3)),
    ]

    sink, producer, journal = run(FANOUT, batch)

    assert sink.batches == [[ActivityEvent.from_avro(SERDE.decode(event_bytes(n))).event_id for n in (0, 3)]]
    assert producer.produced == []  # the undecodable replay is the persister's to fail on, not the fan-out's
    assert journal[-1] == ("commit", [(TOPIC, 0, 4)])
    assert skipped(FANOUT) - before == 2


def test_a_replay_for_this_group_or_for_every_group_is_processed():
    before = skipped(PERSISTER)
    batch = [replay(0, event_bytes(0), PERSISTER), replay(1, event_bytes(1), None), replay(2, b"junk", PERSISTER)]

    sink, producer, _ = run(PERSISTER, batch)

    assert len(sink.batches[0]) == 2
    (dead,) = producer.produced
    assert dict(dead[3])["herald.consumer.group"] == PERSISTER.encode() and "herald.replay.for" not in dict(dead[3])
    assert skipped(PERSISTER) == before


class RefusingSink(ListSink):
    """Writes every record but the second of each batch, which it returns as a dead letter."""

    def write(self, batch):
        super().write(batch)
        return [DeadLetter("conflicting duplicate: event x", "ConflictingDuplicate", self.messages[1])]


def test_records_a_sink_refuses_are_dead_lettered_before_the_offsets_commit():
    batch = [FakeMessage(TOPIC, 0, o, event_bytes(o), f"k{o}".encode()) for o in range(3)]
    sink = RefusingSink()
    sink.messages = batch

    _, producer, journal = run(PERSISTER, batch, sink=sink)

    (dead,) = producer.produced
    assert dead[1] == b"k1" and dict(dead[3])["herald.error.type"] == b"ConflictingDuplicate"
    assert dict(dead[3])["herald.consumer.group"] == PERSISTER.encode()
    assert [step[0] for step in journal] == ["sink.write", "produce", "flush", "commit"]


def test_checkpoint_without_a_sink_result_produces_only_the_processors_dead_letters():
    checkpoint = Checkpoint(
        consumer=FakeConsumer([]), producer=FakeProducer(), sink=ListSink(), dlq_topic_of=lambda t: DLQ
    )
    outcome = Outcome(writes=[1])

    checkpoint.prepare(outcome)

    assert outcome.dead_letters == []
