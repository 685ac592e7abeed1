"""Services the fault suite kills: a broker, a Postgres cluster and an FCM emulator of its own.

They start once per test run on ports free at the start (so two runs, or other suites' throwaway
brokers, never collide; each service keeps its port across its restarts) and are stopped at the end;
the shared local stack is never touched. A machine without a JDK, the Kafka jars' cache or Postgres'
server binaries skips the suite (under CI=true that is a failure). Each test module builds its own
pipeline (fresh topic and group prefix, fresh database) on these services.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.faults.cluster import FaultFcm, FaultKafka, FaultPostgres
from tests.faults.pipeline import FaultPipeline
from tests.ports import free_port

IN_CI = os.environ.get("CI", "").lower() == "true"
# How many times each fault is injected in one run (HERALD_FAULT_REPS; 1 keeps `make test` short).
REPS = int(os.environ.get("HERALD_FAULT_REPS") or 1)


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "faults: kills the suite's own broker, Postgres or FCM emulator")


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.faults.scenario import REPORT

    if REPORT:
        terminalreporter.section("fault suite: counts and recovery times")
        for line in REPORT:
            terminalreporter.write_line(line)


def _missing() -> str | None:
    if shutil.which("java") is None:
        return "no java for the fault suite's broker"
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "no Postgres server binaries for the fault suite's cluster"
    if os.geteuid() != 0 and shutil.which("sudo") is None:
        return "the fault suite's Postgres runs as the postgres user: needs root or sudo"
    return None


@pytest.fixture(scope="session")
def fault_root():
    missing = _missing()
    if missing:
        if IN_CI:
            pytest.fail(f"{missing} (CI=true: a missing service is a failure, not a skip)")
        pytest.skip(missing)
    root = Path(tempfile.mkdtemp(prefix="herald-faults-"))
    os.chmod(root, 0o755)  # the postgres user must reach its data dir below
    yield root
    for data in ("kafka/data", "postgres/data"):  # the bulk; the logs stay for a failure's diagnosis
        shutil.rmtree(root / data, ignore_errors=True)
    print(f"\n[faults] logs kept in {root}")


@pytest.fixture(scope="session")
def fault_kafka(fault_root):
    kafka = FaultKafka(fault_root / "kafka", free_port(), free_port())
    kafka.format()
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture(scope="session")
def fault_postgres(fault_root):
    postgres = FaultPostgres(fault_root / "postgres", free_port())
    postgres.init()
    postgres.start()
    postgres.ensure_herald()
    yield postgres
    postgres.stop()


@pytest.fixture(scope="session")
def fault_fcm(fault_root):
    fcm = FaultFcm(fault_root / "fcm-emulator.log", free_port())
    fcm.start()
    yield fcm
    fcm.stop()


@pytest.fixture(scope="module")
def fault_pipeline(request, fault_kafka, fault_postgres, fault_fcm, fault_root):
    """The whole pipeline on a fresh database and topic prefix, started and caught up."""
    name = f"faults_{uuid.uuid4().hex[:8]}"
    database_url = fault_postgres.new_database(name)
    logs = fault_root / "logs" / request.module.__name__.rsplit(".", 1)[-1]
    pipeline = FaultPipeline.build(fault_kafka, fault_fcm, database_url, logs)
    try:
        pipeline.wait_started()
        yield pipeline
    finally:
        codes = pipeline.stop()
        print(f"\n[faults] {request.module.__name__}: processes stopped with {codes}; logs in {logs}")
        for line in pipeline.supervisor_lines:
            print(f"[faults] supervisor: {line}")
