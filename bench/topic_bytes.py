"""Bytes per activity event on the broker's disk: what keeping the activity topic costs
(docs/decisions/0240-activity-topic-keeps-the-feed-window.md).

Publishes ``--events`` demo events through the SDK (``ActivityPublisher``, as an EMR service does) into
a scratch activity topic of 12 partitions on the local broker, per producer codec, paced at ``--rate``
events/s (0: as fast as possible, so batches are large), then sums the partitions' ``.log`` files in
the local broker's data directory (the index files are preallocated and not data). One replica: a
cluster keeps replication-factor times as much.

Usage: python bench/topic_bytes.py [--events 100000] [--rate 0] [--codecs none,lz4,zstd]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import scratch_topics  # noqa: E402
from cli.devstack.paths import state_dir  # noqa: E402
from cli.produce import demo_event_list  # noqa: E402
from streams.messages import ACTIVITY_EVENT  # noqa: E402
from streams.producer import ActivityPublisher  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402
from streams.settings import ProducerSettings  # noqa: E402
from streams.topics import ACTIVITY  # noqa: E402


def on_disk(topic: str) -> int:
    """Bytes of the topic's partition logs in the local broker's data directory."""
    return sum(p.stat().st_size for p in (state_dir() / "kafka" / "data").glob(f"{topic}-*/*.log"))


def one(events: list, codec: str, rate: float) -> int:
    settings = ProducerSettings(
        topic_prefix=f"bytes{uuid.uuid4().hex[:8]}.", kafka_compression=codec, producer_buffer_max_messages=1_000_000
    )
    scratch_topics(settings, 12)
    activity = ActivityPublisher.from_settings(settings)
    started = time.monotonic()
    for i, event in enumerate(events):
        if rate:
            time.sleep(max(started + i / rate - time.monotonic(), 0))
        activity.publish(event)
    assert activity.close(120) == 0  # every record acknowledged: written to the partition logs
    return on_disk(settings.topic(ACTIVITY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--codecs", default="none,lz4,zstd")
    args = parser.parse_args()
    events = demo_event_list(args.events, seed=11)
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    value = sum(len(serde.encode(e.to_avro())) for e in events) / len(events)
    print(f"{args.events:,} demo events, Avro value {value:.0f} bytes/event, rate {args.rate or 'unpaced'}")
    print("| codec | bytes per event on disk | MB per million events (one replica) |")
    print("|---|---|---|")
    for codec in args.codecs.split(","):
        per_event = one(events, codec, args.rate) / len(events)
        print(f"| {codec} | {per_event:.0f} | {per_event:.0f} |")


if __name__ == "__main__":
    main()
