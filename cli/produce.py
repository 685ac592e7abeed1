"""``herald produce demo``: the demo world's directory, then its activity events at a given rate."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from processors.demo.traffic import DemoWorld, build_world, demo_events
from streams.messages import DIRECTORY_CHANGE, ActivityEvent, utcnow
from streams.producer import ActivityPublisher, Publisher
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.settings import ProducerSettings
from streams.topics import DIRECTORY


@dataclass(frozen=True)
class ProduceReport:
    directory_records: int
    events: int
    failures: int
    seconds: float


def publish_directory(publisher: Publisher, settings: ProducerSettings, world: DemoWorld) -> int:
    """Publishes every user and care-team membership of the world; returns how many."""
    topic = settings.topic(DIRECTORY)
    serde = AvroSerde(DIRECTORY_CHANGE, SchemaStore(), registry=registry_client(settings.schema_registry_url),
                      subject=f"{topic}-value")
    changes = world.directory(utcnow())
    for change in changes:
        publisher.publish(topic, change.key, serde.encode(change.to_avro()))
    return len(changes)


def publish_events(activity: ActivityPublisher, events, rate: float) -> int:
    """Publishes events, paced to ``rate`` per second when rate > 0; returns how many."""
    started = time.monotonic()
    count = 0
    for count, event in enumerate(events, start=1):
        activity.publish(event)
        if rate > 0:
            ahead = count / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)  # pacing an open-loop load generator, not waiting on a condition
    return count


def produce_demo(settings: ProducerSettings, *, events: int, rate: float, seed: int = 7,
                 directory: bool = True) -> ProduceReport:
    """The demo world (seeded) and ``events`` events; blocks until the broker acknowledged them."""
    failures: list = []
    activity = ActivityPublisher.from_settings(settings, on_failure=failures.append)
    started = time.monotonic()
    now = utcnow()
    world = build_world(random.Random(seed), now)
    published_dir = publish_directory(activity._publisher, settings, world) if directory else 0
    stream = demo_events(world, random.Random(seed + 1), events, now - timedelta(seconds=events * 0.05))
    count = publish_events(activity, stream, rate)
    pending = activity.close(60)
    return ProduceReport(published_dir, count, len(failures) + pending, time.monotonic() - started)


def demo_event_list(events: int, seed: int = 7) -> list[ActivityEvent]:
    """The exact events ``produce_demo`` would publish for a seed (tests compare against it)."""
    now = utcnow()
    world = build_world(random.Random(seed), now)
    return list(demo_events(world, random.Random(seed + 1), events, now - timedelta(seconds=events * 0.05)))
