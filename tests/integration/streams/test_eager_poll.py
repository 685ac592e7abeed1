"""The push sender's loop on the real broker: an eager batch starts when its first record arrives, not
when the batch timeout is up, and takes the records that came with it. The consumer is built as the push
sender's (``build_runtime`` with ``PushSenderSettings``: eager, fetch answered at the first byte) and its
input is written in Kafka transactions, as the fan-out writes it."""

from __future__ import annotations

import threading
import time
import uuid

from cli.processes import wait_until
from processors.push.settings import PushSenderSettings
from streams.admin import create_topics, delete_topics
from streams.app import build_runtime
from streams.clients import build_admin, build_producer
from streams.records import Outcome, Record
from streams.topics import PUSH, PUSH_DLQ, topic_specs

TIMEOUT_S = 5.0  # the batch timeout: far longer than a fetch, so waiting it out cannot pass for not waiting
ROUNDS, PER_ROUND = 3, 20


class Timed:
    name = "timed"

    def __init__(self) -> None:
        self.batches: list[tuple[float, int]] = []  # (monotonic time handled, records)

    def handle(self, batch: list[Record]) -> Outcome:
        self.batches.append((time.monotonic(), len(batch)))
        return Outcome()


def test_given_an_idle_eager_loop_then_a_committed_transaction_is_handled_at_once_in_one_batch(services):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = PushSenderSettings(
        kafka_bootstrap=services.kafka_bootstrap,
        topic_prefix=f"{prefix}.",
        group_prefix=f"{prefix}-",
        batch_timeout_s=TIMEOUT_S,
        gc_tuning=False,
    )
    admin, specs = build_admin(settings), topic_specs(partitions=1)
    create_topics(admin, settings, specs)
    processor = Timed()
    runtime = build_runtime(
        settings,
        processor=processor,
        group="eager",
        topics=[PUSH],
        dead_letters={PUSH: PUSH_DLQ},
        decode=lambda m: Record(m.value(), m),
        sink=None,
    )
    producer = build_producer(settings, transactional_id=f"{prefix}-writer-0")
    loop = threading.Thread(target=runtime.run, daemon=True)
    loop.start()
    try:
        wait_until(lambda: runtime.hooks.assigned == 1, 60, interval=0.05, what="the partition assigned")
        delays = []
        for round_ in range(ROUNDS):
            producer.begin_transaction()
            for i in range(PER_ROUND):
                producer.produce(settings.topic(PUSH), f"{round_}-{i}".encode(), b"u")
            producer.commit_transaction()
            committed = time.monotonic()
            wait_until(
                lambda round_=round_: len(processor.batches) == round_ + 1,
                2 * TIMEOUT_S,
                interval=0.01,
                what=f"round {round_} handled",
            )
            handled, size = processor.batches[-1]
            delays.append(handled - committed)
            assert size == PER_ROUND  # the first record and everything that came with it
        # the loop waited for records, not for its timeout (a round right after a batch would wait ~5 s)
        assert max(delays) < TIMEOUT_S / 2, delays
    finally:
        runtime.stop()
        loop.join(2 * TIMEOUT_S)
        delete_topics(admin, settings, specs)
