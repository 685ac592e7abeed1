"""The latency benchmark's load generator: events encoded ahead, published no earlier than their
scheduled time, and stamped (occurred_at, and the time latencies count from) with that time."""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timezone
from itertools import pairwise

from bench.pipeline import Load
from cli.processes import wait_until
from processors.demo.traffic import build_world, demo_events
from streams.messages import ACTIVITY_EVENT
from streams.producer import ActivityPublisher
from streams.serde import AvroSerde, SchemaStore


class TimedSink:
    """A Publisher that records what was produced and when."""

    def __init__(self):
        self.produced = []

    def publish(self, topic, key, value, headers=None):
        self.produced.append((time.time(), key, value))
        return True

    def close(self, timeout=30.0):
        return 0


class World:
    def __init__(self):
        now = datetime.now(timezone.utc)
        self._world, self._rng, self._now = build_world(random.Random(3), now), random.Random(4), now

    def events(self, count):
        return list(demo_events(self._world, self._rng, count, self._now))


def run_load(rate, count):
    sink = TimedSink()
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    load = Load(World(), rate, publisher=ActivityPublisher(sink, serde, "t.activity-events.v1"))
    load.run(count)
    assert load.stop() == 0
    decoded = [serde.decode(value) for _, _, value in sink.produced]
    return load, sink.produced, decoded


def test_paced_events_are_stamped_with_their_schedule_and_never_published_before_it():
    load, produced, decoded = run_load(rate=500, count=60)
    assert len(produced) == len(load.published) == 60
    stamps = [load.published[uuid.UUID(d["event_id"])] for d in decoded]
    gaps = [b - a for a, b in pairwise(stamps)]
    assert all(abs(g - 1 / 500) < 1e-6 for g in gaps)  # one event every 2 ms, as scheduled
    for (at, _, _), stamp, d in zip(produced, stamps, decoded, strict=True):
        assert at >= stamp  # a publish never precedes the time its latency counts from
        assert abs(d["occurred_at"].timestamp() - stamp) <= 1e-6  # the event says the same (µs precision)
    assert load.started == stamps[0]
    assert 0 < load.achieved() <= 500 * 1.01


def test_a_burst_counts_from_before_its_first_event_is_built_and_stamps_none_after_its_publish():
    load, produced, decoded = run_load(rate=0, count=250)
    assert len(produced) == len(load.published) == 250
    assert load.started <= produced[0][0] and load.finished >= produced[-1][0]
    for (at, _, _), d in zip(produced, decoded, strict=True):
        assert load.published[uuid.UUID(d["event_id"])] <= at


def test_started_in_a_thread_it_publishes_second_after_second_on_schedule_until_stopped():
    sink = TimedSink()
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    load = Load(World(), 400, publisher=ActivityPublisher(sink, serde, "t.activity-events.v1"))
    load.start()
    wait_until(lambda: len(sink.produced) > 500, 10, interval=0.01, what="a second chunk of events")
    assert load.stop() == 0
    stamps = sorted(load.published.values())
    assert len(stamps) == len(sink.produced) > 500  # past the first 400-event chunk, nothing published twice
    assert all(abs((b - a) - 1 / 400) < 1e-6 for a, b in pairwise(stamps))  # one schedule across chunks
    assert all(at >= load.published[uuid.UUID(serde.decode(value)["event_id"])] for at, _, value in sink.produced)
