"""``herald run lag-exporter`` (a real process) across a SIGKILL and restart of its broker, a
throwaway one (never the shared broker): during the outage it turns not ready and withdraws its lag
series instead of serving the pre-outage figures; after the broker is back its figures are the
broker's new ones within 30 s, by itself, and the process never dies."""

from __future__ import annotations

import time

import httpx
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from cli.devstack.kafka import kafka_coordinators_ready
from cli.processes import start_processor, stop_processor, wait_until
from streams.admin import create_topics
from streams.clients import build_admin
from streams.settings import KafkaSettings
from streams.topics import TopicSpec
from tests.integration.throwaway_kafka import ThrowawayKafka, free_port

pytestmark = pytest.mark.integration
RECOVERY_LIMIT_S = 30.0
STALE_AFTER_S = 6


def scrape(port: int) -> dict[str, dict[tuple, float]]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    return {
        f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
        for f in text_string_to_metric_families(text)
    }


def ready(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200


def committed_gauge(port: int, group: str, topic: str) -> float | None:
    key = (("group", group), ("partition", "0"), ("topic", topic))
    return scrape(port).get("herald_group_committed_offset", {}).get(key)


def produce_and_commit(bootstrap: str, topic: str, group: str, records: int, commit_at: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for _ in range(records):
        producer.produce(topic, b"v", partition=0)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(topic, 0, commit_at)], asynchronous=False)
    consumer.close()


def test_given_a_broker_restart_then_stale_figures_are_withdrawn_and_right_again_within_30s(tmp_path):
    kafka = ThrowawayKafka(tmp_path / "kafka")
    kafka.format()
    kafka.start()
    kafka_coordinators_ready(kafka.bootstrap)
    settings = KafkaSettings(kafka_bootstrap=kafka.bootstrap, topic_prefix="restart.", group_prefix="restart-")
    topic, group = settings.topic("t"), settings.group("g")
    create_topics(build_admin(settings), settings, [TopicSpec("t", 1)])
    produce_and_commit(kafka.bootstrap, topic, group, records=10, commit_at=4)
    port = free_port()
    exporter = start_processor(
        "processors.lag_exporter",
        log_path=str(tmp_path / "lag-exporter.log"),
        env={
            "HERALD_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "HERALD_TOPIC_PREFIX": "restart.",
            "HERALD_GROUP_PREFIX": "restart-",
            "HERALD_METRICS_PORT": str(port),
            "HERALD_LAG_INTERVAL_S": "1",
            "HERALD_LAG_PROBE_TIMEOUT_S": "2",
            "HERALD_LAG_STALE_AFTER_S": str(STALE_AFTER_S),
        },
    )
    try:
        wait_until(lambda: _answers(port) and committed_gauge(port, group, topic) == 4, 30, what="the first figures")
        assert ready(port)

        # When the broker dies, then past the staleness limit: not ready, lag series withdrawn, age exported
        kafka.kill()
        wait_until(lambda: not ready(port), STALE_AFTER_S + 10, what="/readyz to fail")
        metrics = scrape(port)
        assert not metrics.get("herald_group_committed_offset") and not metrics.get("herald_group_lag_messages")
        assert metrics["herald_lag_collection_age_seconds"][()] > STALE_AFTER_S

        # When it is back with new figures (committed as soon as the coordinator lets us)
        kafka.start()
        back_at = time.monotonic()
        kafka_coordinators_ready(kafka.bootstrap)
        produce_and_commit(kafka.bootstrap, topic, group, records=5, commit_at=12)
        # Then the exporter shows them within 30 s of the broker's return, by itself
        wait_until(
            lambda: committed_gauge(port, group, topic) == 12 and ready(port),
            RECOVERY_LIMIT_S,
            what="the exporter's figures to match the broker again",
        )
        recovered_s = time.monotonic() - back_at
        lag = scrape(port)["herald_group_lag_messages"][(("group", group), ("partition", "0"), ("topic", topic))]
        assert lag == 3
        assert exporter.poll() is None, "the exporter died during the outage"
        print(f"lag exporter correct {recovered_s:.1f} s after the broker answered again")
    finally:
        stop_processor(exporter)
        kafka.stop()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
