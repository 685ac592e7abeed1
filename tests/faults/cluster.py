"""Services the fault suite may kill: its own Kafka broker, Postgres cluster and FCM emulator.

The shared local stack (Kafka 9092, Postgres 5432, the emulator on 9099) serves everyone working on
this machine, so nothing here touches it. The broker runs from the jars ``herald dev up`` caches, with
``deploy/kafka/server.properties`` rendered for other ports and a data dir of its own; the Postgres
cluster is an ``initdb`` under a temp dir run as the postgres user; the emulator is
``python -m deploy.fcm_emulator`` on a port of its own. Each has ``start()`` (same data, same port) and
a hard stop (SIGKILL, ``pg_ctl stop -m immediate``, SIGTERM), and ``start()`` returns only once the
service answers the way Herald needs it: for Kafka that is metadata *and* both coordinators (a probe
group commits an offset, a probe transactional producer initializes), because a broker that answers
metadata may still refuse commits and transactions for seconds after a restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cli.devstack import kafka as devkafka
from cli.devstack.paths import REPO_ROOT
from cli.processes import wait_until
from tests.ports import port_open

KAFKA_PORT, KAFKA_CONTROLLER_PORT = 19092, 19093
PG_PORT = 15432
FCM_PORT = 19099


def _quiet_logger():
    """librdkafka's 'Connection refused' lines while a broker is down are expected here."""
    from cli.devstack.coordinators import silent_logger

    return silent_logger()


# --------------------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------------------


def committed_offsets(bootstrap: str, group: str, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """``Consumer.committed()`` of ``group`` on the brokers at ``bootstrap``: what they hold, not what any
    exporter says."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "logger": _quiet_logger()}
    )
    try:
        tps = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=10)
        return {(tp.topic, tp.partition): tp.offset for tp in tps}
    finally:
        consumer.close()


class FaultKafka:
    """A single-node KRaft broker on ``port`` / ``controller_port`` with its data under ``root``."""

    def __init__(self, root: Path, port: int = KAFKA_PORT, controller_port: int = KAFKA_CONTROLLER_PORT) -> None:
        self.root, self.port, self.controller_port = root, port, controller_port
        self.bootstrap = f"127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.logs = root / "logs"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        """deploy/kafka/server.properties with our ports and data dir; every other setting as the local
        stack's broker has it, so a fault shows what it would do there."""
        return self.root / "server.properties"

    def format(self) -> None:
        """A fresh, empty broker: the data dir wiped and formatted with a new cluster id."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("format() of a running broker")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        devkafka._ensure_kafka_jars()
        config = devkafka.render_kafka_config(
            self.config, self.data_dir, self.bootstrap, f"127.0.0.1:{self.controller_port}"
        )
        devkafka.format_kafka_storage(config, devkafka.new_cluster_id(), cwd=self.root, logs_dir=self.logs)

    def start(self, timeout: float = 120.0, coordinators: bool = True) -> float:
        """Starts the broker on its existing data dir; returns once it is ready, with the seconds that
        took: metadata and both coordinators answer, or (``coordinators=False``) metadata only."""
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise RuntimeError(f"port {port} is taken; is an earlier fault broker still running?")
        started = time.monotonic()
        with open(self.logs / "kafka.out", "ab") as out:
            self.proc = subprocess.Popen(
                devkafka.kafka_broker_argv(self.config, logs_dir=self.logs),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.root,
            )
        self.wait_ready(timeout, coordinators)
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no controlled leader move."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        wait_until(lambda: not port_open(self.port), 30, what="the broker's port to close")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def wait_ready(self, timeout: float, coordinators: bool = True) -> None:
        """Metadata answers, then (``coordinators``) the probes ``herald dev up`` waits for
        (``cli.devstack.coordinators.wait_for_coordinators``): a group commit and read back, and a
        transactional producer's ``init_transactions``."""
        from cli.devstack.coordinators import wait_for_coordinators

        deadline = time.monotonic() + timeout
        while not (port_open(self.port) and self.metadata_answers()):
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the fault broker exited with {self.proc.returncode}; see {self.logs}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fault broker did not answer metadata within {timeout:.0f} s; see {self.logs}")
            time.sleep(0.5)
        if coordinators:
            wait_for_coordinators(self.bootstrap, max(deadline - time.monotonic(), 1.0))

    def admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient(
            {"bootstrap.servers": self.bootstrap, "logger": _quiet_logger(), "reconnect.backoff.max.ms": 500}
        )

    def metadata_answers(self) -> bool:
        from confluent_kafka import KafkaException

        try:
            self.admin().list_topics(timeout=2)
            return True
        except KafkaException:
            return False

    def committed(self, group: str, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """``Consumer.committed()`` of ``group``: what the broker holds, not what any exporter says."""
        return committed_offsets(self.bootstrap, group, partitions)


# --------------------------------------------------------------------------------------------------
# Postgres
# --------------------------------------------------------------------------------------------------


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return ["sudo", "-n", "-u", "postgres", *argv]


def _pg_bin(name: str) -> str:
    import glob

    from cli.devstack.postgres import _pg_bin_version

    newest = max(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_pg_bin_version)
    return str(Path(newest).parent / name)


class FaultPostgres:
    """A Postgres cluster under ``root`` (owned by the postgres user) on ``port``: role and database
    ``herald`` with the local stack's role settings (``cli.devstack.postgres.PG_ROLE_SETTINGS``)."""

    def __init__(self, root: Path, port: int = PG_PORT) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.url = f"postgresql+psycopg://herald@127.0.0.1:{port}/herald"

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
            check=True,
            capture_output=True,
            cwd="/",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
            )

    def start(self, timeout: float = 60.0) -> float:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken; is an earlier fault cluster still running?")
        started = time.monotonic()
        subprocess.run(
            _as_postgres(
                [_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(int(timeout)), "start"]
            ),
            check=True,
            capture_output=True,
            cwd="/",
        )
        wait_until(self.answers, timeout, interval=0.2, what="the fault Postgres cluster")
        return time.monotonic() - started

    def stop_immediate(self) -> None:
        """``pg_ctl stop -m immediate``: every backend ends at once, no checkpoint; the next start recovers."""
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
            check=True,
            capture_output=True,
            cwd="/",
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
            check=False,
            capture_output=True,
            cwd="/",
        )

    def answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2) as c:
                c.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def superuser(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def ensure_herald(self) -> None:
        import psycopg

        from cli.devstack.postgres import PG_ROLE_SETTINGS

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'herald'").fetchone():
                conn.execute("CREATE ROLE herald LOGIN CREATEDB")
            for name, value in PG_ROLE_SETTINGS.items():
                conn.execute(f"ALTER ROLE herald SET {name} = {value}")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'herald'").fetchone():
                conn.execute("CREATE DATABASE herald OWNER herald")

    def new_database(self, name: str) -> str:
        """A fresh database owned by herald, migrated to head; returns its URL."""
        from sinks.postgres.migrate import upgrade

        self.superuser(f'CREATE DATABASE "{name}" OWNER herald')
        url = f"postgresql+psycopg://herald@127.0.0.1:{self.port}/{name}"
        upgrade(url)
        return url


# --------------------------------------------------------------------------------------------------
# FCM emulator
# --------------------------------------------------------------------------------------------------


class FaultFcm:
    """deploy/fcm_emulator on a fixed port, so it can be stopped and started again at the same address.
    Its record of accepted messages lives in memory: a restart starts it empty."""

    def __init__(self, log: Path, port: int = FCM_PORT) -> None:
        self.port, self.log = port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken; is an earlier fault emulator still running?")
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "deploy.fcm_emulator", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(self.answers, 20, interval=0.1, what="the fault FCM emulator")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        wait_until(lambda: not port_open(self.port), 10, what="the emulator's port to close")

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def reset(self) -> None:
        """Forget scripted faults and accepted messages (``herald demo`` scripts faults into it)."""
        httpx.delete(f"{self.url}/emulator/faults", timeout=5).raise_for_status()
        httpx.delete(f"{self.url}/emulator/messages", timeout=5).raise_for_status()

    def messages(self) -> list[dict]:
        return httpx.get(f"{self.url}/emulator/messages", timeout=30).json()["messages"]
