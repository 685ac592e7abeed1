"""What checking every field's limits costs the persister's decoder, in one run with no services.

Times ``row_from_avro`` (the persister's decode step after Avro) over demo events, interleaving the
decoder as it is with the same decoder whose limit checks (``streams.limits.activity_limits_problem``)
are switched off, and prints µs per event for each and their ratio.
Usage: python bench/validation.py [--events 20000] [--repetitions 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streams.messages  # noqa: E402
from cli.produce import demo_event_list  # noqa: E402
from sinks.postgres.activity_rows import row_from_avro  # noqa: E402
from streams.messages import ACTIVITY_EVENT  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402


def per_event_us(dicts: list[dict]) -> float:
    started = time.perf_counter()
    for d in dicts:
        row_from_avro(d)
    return (time.perf_counter() - started) / len(dicts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repetitions", type=int, default=7)
    args = parser.parse_args()
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    dicts = [serde.decode(serde.encode(e.to_avro())) for e in demo_event_list(args.events, seed=3)]
    checked = streams.messages.activity_limits_problem
    with_limits, without = [], []
    for _ in range(args.repetitions):
        streams.messages.activity_limits_problem = checked
        with_limits.append(per_event_us(dicts))
        streams.messages.activity_limits_problem = lambda d: None
        without.append(per_event_us(dicts))
    streams.messages.activity_limits_problem = checked
    a, b = statistics.median(with_limits), statistics.median(without)
    print(
        f"row_from_avro, {args.events:,} events, median of {args.repetitions}: "
        f"with limit checks {a:.2f} µs/event, without {b:.2f} µs/event, ratio {a / b:.2f}"
    )


if __name__ == "__main__":
    main()
