"""Producer compression for the SDK's usual traffic: small records, one per batch. Broker and
producer CPU per codec (the reason HERALD_KAFKA_COMPRESSION defaults to none).

A producer built by ``streams.clients.producer_config`` with the codec (5 ms linger, as the processors), paced
at ``--rate`` records/s of ~420 bytes with random keys over 12 partitions, for ``--seconds`` per codec;
codecs interleaved ``--reps`` times (this machine is noisy: compare within one run). CPU comes from
/proc: the local broker (the java process running ``kafka.Kafka``) and this process.

Usage: python bench/compression.py [--rate 500] [--seconds 20] [--reps 2] [--codecs none,lz4]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Producer  # noqa: E402

from bench.common import scratch_topics  # noqa: E402
from bench.stats import cell  # noqa: E402
from streams.clients import producer_config  # noqa: E402
from streams.settings import KafkaSettings  # noqa: E402
from streams.topics import ACTIVITY  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def broker_pid() -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"kafka.Kafka" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    raise SystemExit("no local broker (a java process running kafka.Kafka): run `herald dev up` first")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def one(settings: KafkaSettings, codec: str, rate: float, seconds: float, broker: int) -> dict:
    producer = Producer(producer_config(settings.model_copy(update={"kafka_compression": codec})))
    topic, value = settings.topic(ACTIVITY), os.urandom(120) + b"x" * 300
    for i in range(200):  # connections and metadata before the clock starts
        producer.produce(topic, value, str(i).encode())
    producer.flush(30)
    broker0, self0, started, sent = cpu_s(broker), cpu_s(os.getpid()), time.monotonic(), 0
    while sent < rate * seconds:
        producer.produce(topic, value, uuid.uuid4().bytes)
        producer.poll(0)
        sent += 1
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)  # pacing
    assert producer.flush(60) == 0, "the broker did not acknowledge every record"
    elapsed = time.monotonic() - started
    return {
        "codec": codec,
        "records_per_s": sent / elapsed,
        "broker_cpu_pct": 100 * (cpu_s(broker) - broker0) / elapsed,
        "producer_cpu_pct": 100 * (cpu_s(os.getpid()) - self0) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--codecs", default="none,lz4")
    args = parser.parse_args()
    settings = KafkaSettings(topic_prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    scratch_topics(settings, 12)
    broker, codecs = broker_pid(), args.codecs.split(",")
    runs = [one(settings, codec, args.rate, args.seconds, broker) for _ in range(args.reps) for codec in codecs]
    print(
        f"{args.rate:,.0f} records/s of ~420 B, one per batch mostly, {args.seconds:.0f} s per run, "
        f"{args.reps} runs per codec interleaved (median, min-max):\n"
    )
    print("| codec | broker CPU (% of a core) | producer CPU (% of a core) |\n|---|---|---|")
    for codec in codecs:
        mine = [r for r in runs if r["codec"] == codec]
        print(
            f"| {codec} | {cell([r['broker_cpu_pct'] for r in mine], '.1f')} | {cell([r['producer_cpu_pct'] for r in mine], '.1f')} |"
        )


if __name__ == "__main__":
    main()
