"""The push part of ``herald demo``: devices, scripted FCM trouble, waiting for the sender, a summary."""

from __future__ import annotations

import os

import httpx
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from cli.devstack import default_fcm_env
from cli.dlq import read_dlq
from cli.produce import register_demo_devices
from sinks.postgres.engine import build_engine
from streams.admin import group_lag
from streams.settings import KafkaSettings, ProcessorSettings
from streams.topics import ACTIVITY_DLQ, PUSH, PUSH_DLQ

# The demo's push sender: the emulator unless FCM is configured, and short retry waits so the
# demo shows retries finishing rather than waiting minutes for them.
PUSH_ENV = {"HERALD_PUSH_RETRY_BASE_S": "0.5", "HERALD_PUSH_RETRY_CAP_S": "5", **default_fcm_env(os.environ)}
# Transient trouble for everyone now and then (retried), and one device in twenty of a foreign
# Firebase project (SENDER_ID_MISMATCH: permanent, so those pushes land in the push DLQ).
_FAULTS = [{"code": "UNAVAILABLE", "rate": 0.1}, {"code": "QUOTA_EXCEEDED", "rate": 0.03, "retry_after": 1}]


def fcm_endpoint() -> str | None:
    return os.environ.get("HERALD_FCM_ENDPOINT") or PUSH_ENV.get("HERALD_FCM_ENDPOINT")


def prepare_devices(console: Console, database_url: str) -> None:
    """Registers the demo users' devices and scripts the emulator (when one is used)."""
    endpoint = fcm_endpoint()
    report = register_demo_devices(database_url, endpoint)
    mismatched = _foreign_devices(database_url)
    if endpoint:
        try:
            httpx.delete(f"{endpoint}/emulator/messages", timeout=5)
            for fault in _FAULTS + [{"token": t, "code": "SENDER_ID_MISMATCH"} for t in mismatched]:
                httpx.post(f"{endpoint}/emulator/faults", json=fault, timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            console.print(
                f"  [yellow]FCM emulator at {endpoint} not scriptable ({exc}); pushes go out unscripted[/yellow]"
            )
    console.print(
        f"  devices: {report.tokens} tokens for {report.users} users; {report.scripted_unregistered} scripted "
        f"UNREGISTERED, {len(mismatched)} SENDER_ID_MISMATCH, and 10% UNAVAILABLE / 3% QUOTA_EXCEEDED for all"
    )


def _foreign_devices(database_url: str) -> list[str]:
    engine = build_engine(database_url)
    with engine.connect() as conn:
        tokens = (
            conn.execute(
                text(
                    "SELECT token FROM device_tokens WHERE token LIKE 'demo-%' AND retired_at IS NULL "
                    "AND md5(token) < '0d' ORDER BY token"
                )
            )
            .scalars()
            .all()
        )  # about 1 in 20
    engine.dispose()
    return list(tokens)


def last_offsets(settings: KafkaSettings, topic: str) -> dict[int, int]:
    """The offset of the last record of each partition (a transaction's commit marker is not a record)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.group_prefix}tail-probe",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts}
        live = {p: (lo, hi) for p, (lo, hi) in ends.items() if hi > lo}
        consumer.assign([TopicPartition(topic, p, max(lo, hi - 4)) for p, (lo, hi) in live.items()])
        last: dict[int, int] = {}
        while batch := consumer.consume(1000, 1.0):
            for msg in batch:
                partition, offset = msg.partition(), msg.offset()  # None only on a message that carries an error
                if not msg.error() and partition is not None and offset is not None:
                    last[partition] = max(last.get(partition, -1), offset)
        return last
    finally:
        consumer.close()


def caught_up(settings: KafkaSettings, group: str, topic_base: str) -> bool:
    """``group`` committed past the last record of every partition of the topic."""
    topic = settings.topic(topic_base)
    committed = {r.partition: r.committed for r in group_lag(settings, settings.group(group), topic)}
    return all(committed.get(p, -1) > offset for p, offset in last_offsets(settings, topic).items())


def pushes_settled(settings: ProcessorSettings) -> bool:
    """The sender consumed every push request and no retry is waiting."""
    if not caught_up(settings, "push-sender", PUSH):
        return False
    engine = build_engine(settings.database_url)
    with engine.connect() as conn:
        pending = conn.execute(text("SELECT count(*) FROM push_retries")).scalar_one()
    engine.dispose()
    return pending == 0


def print_push_summary(console: Console, settings: ProcessorSettings) -> None:
    """Pushes delivered to the emulator, deliveries by outcome, tokens retired, retries, DLQ counts."""
    engine = build_engine(settings.database_url)
    with engine.connect() as conn:
        deliveries = conn.execute(
            text(
                "SELECT status, count(*), count(*) FILTER (WHERE attempts > 1) "
                "FROM push_deliveries GROUP BY status ORDER BY 2 DESC"
            )
        ).all()
        retired = conn.execute(
            text(
                "SELECT retired_reason, count(*) FROM device_tokens WHERE retired_at IS NOT NULL "
                "GROUP BY 1 ORDER BY 2 DESC"
            )
        ).all()
    engine.dispose()
    table = Table("push deliveries (Postgres)", "count", "after a retry")
    for status, count, retried in deliveries:
        table.add_row(status, str(count), str(retried))
    console.print(table)
    console.print(f"  tokens retired: {', '.join(f'{r}: {n}' for r, n in retired) or 'none'}")
    console.print(f"  {_emulator_line()}")
    console.print(
        f"  dead letters: push DLQ {len(read_dlq(settings, settings.topic(PUSH_DLQ), 100_000))}, "
        f"activity DLQ {len(read_dlq(settings, settings.topic(ACTIVITY_DLQ), 100_000))} "
        "(`herald dlq list --topic notifications.push.dlq.v1`, then `herald dlq replay`)"
    )


def _emulator_line() -> str:
    endpoint = fcm_endpoint()
    if not endpoint:
        return "FCM: real FCM configured, no emulator figures"
    try:
        stats = httpx.get(f"{endpoint}/emulator/stats", timeout=5).json()
    except httpx.HTTPError:
        return f"FCM emulator at {endpoint} did not answer"
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(stats["by_code"].items()))
    return f"FCM emulator: {stats['accepted']} pushes delivered this run; every send attempt by answer: {codes}"
