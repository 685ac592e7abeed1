"""Fan-out throughput and the 10,000-user announcement, on the local stack (`make bench-fanout`).

(a) care-team events/s through `python -m processors.fanout` end to end (directory loaded, events
    pre-loaded; from the first marked event to lag 0), with exactly-once on and off;
(b) seconds from publishing one ANNOUNCEMENT_URGENT to an organization of 10,000 users until all its
    push requests are committed on the push topic (read-committed count).
Usage: python bench/fanout.py [--events 50000] [--announcements 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.common import bench_settings, env_of, save, scalar, scratch_database  # noqa: E402
from cli.processes import start_processor, stop_processor, wait_until  # noqa: E402
from processors.demo.traffic import build_world, demo_events  # noqa: E402
from streams.admin import group_lag  # noqa: E402
from streams.messages import DIRECTORY_CHANGE, ActivityEvent, DirectoryChange  # noqa: E402
from streams.producer import ActivityPublisher, Publisher  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402
from streams.settings import ProducerSettings  # noqa: E402
from streams.topics import ACTIVITY, DIRECTORY, PUSH  # noqa: E402

NOW = datetime.now(timezone.utc)
CARE_TEAM_TYPES = {"LAB_RESULT_RECEIVED", "LAB_RESULT_CRITICAL", "MEDICATION_PRESCRIBED", "ENCOUNTER_SIGNED"}


def producer_settings(settings) -> ProducerSettings:
    return ProducerSettings(
        kafka_bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
        producer_buffer_max_messages=1_000_000,
    )


def load_directory(settings, changes: list[DirectoryChange]) -> None:
    serde = AvroSerde(DIRECTORY_CHANGE, SchemaStore())
    with Publisher(producer_settings(settings)) as publisher:
        for change in changes:
            publisher.publish(settings.topic(DIRECTORY), change.key, serde.encode(change.to_avro()))
    proc = start_processor("processors.directory", env=env_of(settings))
    wait_until(lambda: lag(settings, "directory", DIRECTORY) == 0, 300, what="the directory")
    stop_processor(proc)


def lag(settings, group: str, topic: str = ACTIVITY, prefix: str | None = None) -> int:
    rows = group_lag(settings, f"{prefix or settings.group_prefix}{group}", settings.topic(topic))
    return sum(r.messages for r in rows)


def publish(settings, events: list[ActivityEvent]) -> None:
    activity = ActivityPublisher.from_settings(producer_settings(settings))
    for event in events:
        activity.publish(event)
    assert activity.close(120) == 0


def care_team_rate(settings, count: int, exactly_once: bool) -> float:
    """Events/s of one fan-out process over ``count`` pre-loaded care-team events."""
    prefix = f"{settings.group_prefix}eos-{exactly_once}-"
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE activity_events, user_notifications, held_notifications"))
    marked = lambda: scalar(engine, "SELECT count(*) FROM activity_events WHERE notification_sent_at IS NOT NULL")  # noqa: E731
    proc = start_processor(
        "processors.fanout",
        env=env_of(settings, HERALD_GROUP_PREFIX=prefix, HERALD_EXACTLY_ONCE=str(exactly_once).lower()),
    )
    wait_until(lambda: marked() > 0, 120, interval=0.01, what="the first fanned-out events")
    first, started = marked(), time.perf_counter()
    wait_until(lambda: lag(settings, "fanout", prefix=prefix) == 0, 600, interval=0.05, what="the fan-out")
    elapsed = time.perf_counter() - started
    stop_processor(proc)
    engine.dispose()
    return (count - first) / elapsed


def committed_pushes(consumer, topic: str) -> int:
    """Offsets below the last stable offset over the topic's partitions (a read-committed consumer's
    watermark query answers with the LSO, so an open transaction's records are not counted)."""
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return sum(
        high - low
        for low, high in (consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts)
    )


def announcement_seconds(settings) -> tuple[float, int]:
    """From publishing one urgent announcement to 10,000 users until its pushes are committed, on a
    running fan-out: a warm-up announcement to a two-user organization first proves the process has
    joined its group, holds its partitions and has sent a transaction (a fresh process spends ~1 s
    joining the group, which would otherwise be timed as if it were fan-out work)."""
    org, small = f"big-{uuid.uuid4().hex[:6]}", f"small-{uuid.uuid4().hex[:6]}"
    load_directory(
        settings,
        [DirectoryChange("user", org, f"{org}-u{i:05d}", NOW, roles=("nurse",)) for i in range(10_000)]
        + [DirectoryChange("user", small, f"{small}-u{i}", NOW, roles=("nurse",)) for i in range(2)],
    )
    prefix = f"{settings.group_prefix}announce-"
    proc = start_processor("processors.fanout", env=env_of(settings, HERALD_GROUP_PREFIX=prefix))
    wait_until(lambda: lag(settings, "fanout", prefix=prefix) == 0, 300, what="the fan-out to be idle")
    probe = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-probe", "isolation.level": "read_committed"}
    )
    topic = settings.topic(PUSH)
    warm = committed_pushes(probe, topic)
    activity = ActivityPublisher.from_settings(producer_settings(settings))  # connected before the clock starts
    activity.publish(announcement(small, f"{small}-u0"))
    wait_until(lambda: committed_pushes(probe, topic) > warm, 60, interval=0.01, what="the warm-up push")
    before = committed_pushes(probe, topic)
    event = announcement(org, f"{org}-u00000")
    started = time.perf_counter()
    activity.publish(event)
    wait_until(lambda: committed_pushes(probe, topic) - before >= 9_999, 60, interval=0.01, what="10,000 pushes")
    elapsed = time.perf_counter() - started
    assert activity.close(30) == 0
    stop_processor(proc)
    pushes = committed_pushes(probe, topic) - before
    probe.close()
    return elapsed, pushes


def announcement(organization_id: str, actor_user_id: str) -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.uuid4(),
        event_type="ANNOUNCEMENT_URGENT",
        occurred_at=NOW,
        organization_id=organization_id,
        title="Evacuate wing C",
        notify=True,
        actor_user_id=actor_user_id,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--announcements", type=int, default=3, help="announcement runs (the median is reported)")
    args = parser.parse_args()
    settings = bench_settings(scratch_database("herald_bench_fanout"))
    world = build_world(random.Random(3), NOW, organizations=3, users_per_org=200, patients_per_org=2000)
    load_directory(settings, world.directory(NOW))
    events = [e for e in demo_events(world, random.Random(4), args.events * 3, NOW) if e.event_type in CARE_TEAM_TYPES]
    events = events[: args.events]
    print(f"pre-loading {len(events):,} care-team events …", flush=True)
    publish(settings, events)
    eos_on = care_team_rate(settings, len(events), True)
    eos_off = care_team_rate(settings, len(events), False)
    runs = [announcement_seconds(settings) for _ in range(args.announcements)]
    seconds, pushes = sorted(runs)[len(runs) // 2]
    print(f"care-team fan-out, exactly-once on   {eos_on:>8,.0f} events/s")
    print(
        f"care-team fan-out, exactly-once off  {eos_off:>8,.0f} events/s  (transactions cost {1 - eos_on / eos_off:.0%})"
    )
    print(
        f"urgent announcement to 10,000 users: committed in {seconds:.2f} s (median; runs: "
        f"{', '.join(f'{r:.2f}' for r, _ in runs)} s) "
        f"({pushes:,} push-topic offsets: 9,999 requests + 1 commit marker per partition)"
    )
    print(
        f"saved {save('fanout', {'events': len(events), 'care_team_eos_on_per_s': eos_on, 'care_team_eos_off_per_s': eos_off, 'announcement_10k_seconds': seconds, 'announcement_10k_runs': [r for r, _ in runs], 'announcement_pushes': pushes})}"
    )


if __name__ == "__main__":
    main()
