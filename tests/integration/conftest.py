"""Real Kafka and Postgres for integration tests.

Where they come from, in order: ``HERALD_KAFKA_BOOTSTRAP`` / ``HERALD_DATABASE_URL`` when set (how
CI can run them against given services); else testcontainers when a Docker engine answers; else
the local stack (``herald dev up``, idempotent). Under CI=true a service that does not answer is
a test failure, never a skip. Each session gets its own database; each test its own topic and
group prefix, so tests never see each other's records.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from cli.processes import stop_processor
from processors.persister.settings import PersisterSettings
from sinks.postgres.migrate import upgrade
from streams.admin import create_topics, delete_topics, wait_for_kafka
from streams.clients import build_admin
from streams.errors import ServiceUnavailable
from streams.topics import topic_specs
from tests.integration.scratch import scratch_database

IN_CI = os.environ.get("CI", "").lower() == "true"
DEFAULT_DB = "postgresql+psycopg://herald@127.0.0.1:5432/herald"


def unavailable(message: str):
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(message)


@dataclass
class Services:
    kafka_bootstrap: str
    database_url: str
    containers: list = field(default_factory=list)
    managed: bool = True  # Postgres set up by Herald (local stack, container), not given by HERALD_DATABASE_URL


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _from_containers(kafka: str | None, db: str | None) -> Services:
    containers, managed = [], not db
    if not kafka:
        from testcontainers.kafka import KafkaContainer

        containers.append(KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft().start())
        kafka = containers[-1].get_bootstrap_server()
    if not db:
        from testcontainers.postgres import PostgresContainer

        from cli.devstack.postgres import PG_ROLE_SETTINGS

        postgres = PostgresContainer("postgres:15", driver="psycopg")  # with the local stack's planner settings
        flags = " ".join(f"-c {name}={value}" for name, value in PG_ROLE_SETTINGS.items())
        containers.append(postgres.with_command(f"postgres {flags}").start())
        db = containers[-1].get_connection_url()
    return Services(kafka, db, containers, managed)


def _from_local_stack(kafka: str | None, db: str | None) -> Services:
    from cli import devstack

    try:
        devstack.up()
    except devstack.DevstackError as exc:
        unavailable(f"local stack did not start: {exc}")
    return Services(kafka or "127.0.0.1:9092", db or DEFAULT_DB, managed=not db)


@pytest.fixture(scope="session")
def services():
    kafka, db = os.environ.get("HERALD_KAFKA_BOOTSTRAP"), os.environ.get("HERALD_DATABASE_URL")
    if kafka and db:
        found = Services(kafka, db, managed=False)
    elif _docker_answers():
        found = _from_containers(kafka, db)
    else:
        found = _from_local_stack(kafka, db)
    _check(found)
    yield found
    for container in found.containers:
        container.stop()


def _check(found: Services) -> None:
    try:
        wait_for_kafka(build_admin(PersisterSettings(kafka_bootstrap=found.kafka_bootstrap)), timeout_s=60)
    except ServiceUnavailable as exc:
        unavailable(f"Kafka at {found.kafka_bootstrap} does not answer: {exc}")
    try:
        with create_engine(found.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        unavailable(f"Postgres at {found.database_url} does not answer: {exc}")


@pytest.fixture(scope="session")
def database_url(services):
    """A fresh database for this test session, migrated to head; dropped afterwards."""
    with scratch_database(services.database_url, "herald_test") as url:
        upgrade(url)
        yield url


@dataclass
class Pipeline:
    """One test's own topics and groups on the shared broker, and the env its processes get."""

    settings: PersisterSettings
    env: dict[str, str]
    processes: list = field(default_factory=list)

    def topic(self, base: str) -> str:
        return self.settings.topic(base)

    def group(self, base: str) -> str:
        return self.settings.group(base)


@pytest.fixture
def pipeline(services, database_url, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    env = {
        "HERALD_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_TOPIC_PREFIX": f"{prefix}.",
        "HERALD_GROUP_PREFIX": f"{prefix}-",
        "HERALD_METRICS_PORT": "0",
        "HERALD_LOG_LEVEL": "INFO",
        "HERALD_SESSION_TIMEOUT_MS": "6000",
    }
    settings = PersisterSettings(
        kafka_bootstrap=services.kafka_bootstrap,
        database_url=database_url,
        topic_prefix=f"{prefix}.",
        group_prefix=f"{prefix}-",
    )
    admin = build_admin(settings)
    create_topics(admin, settings, topic_specs(partitions=4))
    made = Pipeline(settings, env)
    yield made
    for proc in made.processes:
        stop_processor(proc, timeout=5)
    delete_topics(admin, settings, topic_specs())


@pytest.fixture(scope="session")
def fcm_emulator_process(tmp_path_factory):
    """One FCM emulator for the session, on a free port (not the dev stack's 9099, which a demo may use)."""
    from deploy.fcm_emulator.harness import FcmEmulator

    emulator = FcmEmulator.start(tmp_path_factory.mktemp("fcm") / "fcm-emulator.log")
    yield emulator
    emulator.stop()


@pytest.fixture
def fcm(fcm_emulator_process):
    """The session's emulator with no faults and no recorded messages."""
    fcm_emulator_process.reset()
    yield fcm_emulator_process
    fcm_emulator_process.reset()
