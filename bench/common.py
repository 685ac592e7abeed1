"""Shared set-up of the benchmarks: a scratch database, a topic prefix, pre-loaded events."""

from __future__ import annotations

import atexit
import json
import os
import platform
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli.devstack.databases import drop_database
from cli.produce import demo_event_list
from processors.persister.settings import PersisterSettings
from sinks.postgres.migrate import upgrade
from streams.admin import create_topics, delete_topics
from streams.clients import build_admin
from streams.producer import ActivityPublisher
from streams.settings import ProducerSettings
from streams.topics import topic_specs

RESULTS = Path(__file__).parent / "results"


def scratch_database(name: str) -> str:
    """A fresh database ``<name>_<random>`` next to HERALD_DATABASE_URL's, migrated, dropped when the
    benchmark exits (unique, so two benchmarks running at once never share one); returns its URL."""
    url = _empty_database(name)
    upgrade(url)
    return url


def scratch_emr_database(name: str) -> str:
    """A fresh database ``<name>_<random>`` standing in for an EMR's: no Herald tables, only the outbox
    (``herald outbox install``); dropped when the benchmark exits. Returns its URL."""
    from cli.outbox import install

    url = _empty_database(name)
    install(url)
    return url


def _empty_database(name: str) -> str:
    """Creates ``<name>_<random>`` beside HERALD_DATABASE_URL's database, to drop at exit; returns its URL."""
    base = PersisterSettings().database_url
    name = f"{name}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    atexit.register(_drop_database, admin, name)
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin, name: str) -> None:
    try:
        drop_database(admin, name)
    finally:
        admin.dispose()


def bench_settings(database_url: str, partitions: int = 12) -> PersisterSettings:
    """Settings with a fresh topic and group prefix; the topics are created."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = PersisterSettings(database_url=database_url, topic_prefix=f"{prefix}.", group_prefix=f"{prefix}-")
    scratch_topics(settings, partitions)
    return settings


def scratch_topics(settings, partitions: int) -> None:
    """Creates every topic under ``settings``' prefix and deletes them when the benchmark exits."""
    admin = build_admin(settings)
    create_topics(admin, settings, topic_specs(partitions))
    atexit.register(delete_topics, admin, settings, topic_specs(partitions))


def env_of(settings: PersisterSettings, **extra) -> dict[str, str]:
    return {
        "HERALD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "HERALD_DATABASE_URL": settings.database_url,
        "HERALD_TOPIC_PREFIX": settings.topic_prefix,
        "HERALD_GROUP_PREFIX": settings.group_prefix,
        "HERALD_METRICS_PORT": "0",
        "HERALD_LOG_LEVEL": "WARNING",
        **extra,
    }


def preload_events(settings: PersisterSettings, count: int, seed: int = 11) -> list:
    """Publishes ``count`` demo events and waits for the broker's acknowledgements."""
    events = demo_event_list(count, seed=seed)
    activity = ActivityPublisher.from_settings(
        ProducerSettings(
            kafka_bootstrap=settings.kafka_bootstrap,
            topic_prefix=settings.topic_prefix,
            producer_buffer_max_messages=1_000_000,
        )
    )
    for event in events:
        activity.publish(event)
    assert activity.close(120) == 0
    return events


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """VmRSS of a live process (its resident memory now, not its peak), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> dict:
    import confluent_kafka
    import fastavro
    import psycopg

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "librdkafka": confluent_kafka.libversion()[0],
        "confluent_kafka": confluent_kafka.__version__,
        "fastavro": fastavro.__version__,
        "psycopg": psycopg.__version__,
        "kafka": "4.1.1",
    }


def save(name: str, figures: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now(timezone.utc):%Y-%m-%d}.json"
    path.write_text(json.dumps({"machine": machine(), "at": time.time(), **figures}, indent=2, default=str))
    return path


def scalar(engine, sql: str):
    """One value from one query, on a connection returned to the pool at once."""
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()
