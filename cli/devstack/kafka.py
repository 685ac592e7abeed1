"""Kafka: a single-node KRaft broker at 127.0.0.1:9092, run from Maven Central
jars under the cache dir (`mvn dependency:copy-dependencies` on
deploy/kafka/pom.xml), with its config, data and logs in the state dir."""

from __future__ import annotations

import base64
import logging
import shutil
import time
import uuid
from pathlib import Path

from cli.devstack.coordinators import CoordinatorsNotReady, silent_logger, wait_for_coordinators
from cli.devstack.errors import DevstackError
from cli.devstack.paths import DEPLOY_DIR, _logs_dir, cache_dir, state_dir
from cli.devstack.process import (
    _load_state,
    _port_open,
    _process_alive,
    _run,
    _start_process,
    _stop_process,
    _update_state,
)
from cli.devstack.report import ServiceStatus, _say

KAFKA_VERSION = "4.1.1"
KAFKA_BOOTSTRAP = "127.0.0.1:9092"
KAFKA_CONTROLLER = "127.0.0.1:9093"  # must match deploy/kafka/server.properties
KAFKA_READY_TIMEOUT_S = 90.0
# After metadata answers, __consumer_offsets and __transaction_state may still be loading (on a fresh
# data dir they are created by the first request that needs them): `up` waits this long for both.
KAFKA_COORDINATORS_TIMEOUT_S = 60.0
KAFKA_JVM_OPTS = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]


def _kafka_home() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}"


def _kafka_libs() -> Path:
    return _kafka_home() / "libs"


def _kafka_state() -> Path:
    path = state_dir() / "kafka"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _kafka_server_log() -> Path:
    """The broker's own log (log4j2, INFO); the one to read when it misbehaves."""
    return _logs_dir() / "kafka-server.log"


def _kafka_stdout_log() -> Path:
    """JVM stdout/stderr: crashes before logging is set up end up here."""
    return _logs_dir() / "kafka.out"


def _ensure_kafka_jars() -> None:
    """Called by `up`: fetch the broker jars from Maven Central unless the
    marker of an earlier successful fetch exists. Failure means Maven or the
    registry is unreachable; the error carries Maven's output."""
    marker = _kafka_home() / ".fetched"
    if marker.exists() and any(_kafka_libs().glob("kafka_2.13-*.jar")):
        return
    if shutil.which("mvn") is None:
        raise DevstackError("kafka: mvn not found; install it with `apt-get install -y maven`")
    _say("kafka: fetching jars from Maven Central…")
    started = time.monotonic()
    _run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(DEPLOY_DIR / "kafka" / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={_kafka_libs()}",
        ],
        "kafka: jar fetch",
    )
    jars = sorted(p.name for p in _kafka_libs().glob("*.jar"))
    marker.write_text("\n".join(jars) + "\n")
    _say(f"kafka: {len(jars)} jars in {_kafka_libs()} ({time.monotonic() - started:.1f} s)")


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DevstackError("kafka: java not found; install a JDK 17+ (apt-get install -y openjdk-17-jre-headless)")
    return java


def _kafka_java_argv(main_class: str, *args: str, logs_dir: Path | None = None) -> list[str]:
    """A java command line on the fetched jars with our log4j2 config; used
    for both StorageTool and the broker, which must share one jar set."""
    return [
        _java(),
        *KAFKA_JVM_OPTS,
        "-cp",
        f"{_kafka_libs()}/*",
        f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'kafka' / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={logs_dir or _logs_dir()}",
        main_class,
        *args,
    ]


def kafka_broker_argv(config: Path, logs_dir: Path | None = None) -> list[str]:
    """The broker's command line for a config from `render_kafka_config`."""
    return _kafka_java_argv("kafka.Kafka", str(config), logs_dir=logs_dir)


def _kafka_data_dir() -> Path:
    return _kafka_state() / "data"


def _write_kafka_config() -> Path:
    """Render deploy/kafka/server.properties into the state dir (every `up`,
    so template edits take effect on the next start)."""
    return render_kafka_config(_kafka_state() / "server.properties", _kafka_data_dir())


def render_kafka_config(
    target: Path, data_dir: Path, bootstrap: str = KAFKA_BOOTSTRAP, controller: str = KAFKA_CONTROLLER
) -> Path:
    """deploy/kafka/server.properties with this data dir and these listeners, written to `target`;
    other addresses give a second, throwaway broker for tests with every other setting as ours."""
    template = (DEPLOY_DIR / "kafka" / "server.properties").read_text()
    text = (
        template.replace("@KAFKA_DATA_DIR@", str(data_dir))
        .replace(KAFKA_BOOTSTRAP, bootstrap)
        .replace(KAFKA_CONTROLLER, controller)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _kafka_cluster_id() -> str:
    """The cluster id, generated once and kept: a formatted log dir only
    accepts the id it was formatted with."""
    path = _kafka_state() / "cluster-id"
    if path.exists():
        return path.read_text().strip()
    cluster_id = new_cluster_id()
    path.write_text(cluster_id + "\n")
    return cluster_id


def _format_kafka_storage(config: Path) -> None:
    """Format the KRaft log dir on first start only (meta.properties marks a
    formatted dir; formatting again would refuse or wipe the metadata)."""
    if (_kafka_data_dir() / "meta.properties").exists():
        return
    _say("kafka: formatting storage…")
    format_kafka_storage(config, _kafka_cluster_id(), cwd=state_dir())


def format_kafka_storage(config: Path, cluster_id: str, cwd: Path, logs_dir: Path | None = None) -> None:
    """StorageTool format of the log dir `config` names (which must not be formatted yet)."""
    argv = _kafka_java_argv("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), logs_dir=logs_dir)
    _run(argv, "kafka: storage format", cwd=cwd)


def new_cluster_id() -> str:
    cluster_id = "-"
    while cluster_id.startswith("-"):  # a leading '-' would read as a CLI flag
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


def _silent_logger() -> logging.Logger:
    """librdkafka prints 'Connection refused' lines while the broker is down;
    route them into a logger that drops them."""
    return silent_logger()


def _kafka_admin():
    from confluent_kafka.admin import AdminClient

    return AdminClient(
        {
            "bootstrap.servers": KAFKA_BOOTSTRAP,
            "logger": _silent_logger(),
            # The default backoff grows to 10 s, which would add seconds to startup.
            "reconnect.backoff.max.ms": 500,
        }
    )


def _kafka_answers(admin=None, timeout: float = 2.0) -> bool:
    """True if a broker at 127.0.0.1:9092 returns metadata within `timeout`."""
    from confluent_kafka import KafkaException

    host, port = KAFKA_BOOTSTRAP.rsplit(":", 1)
    if not _port_open(host, int(port)):
        return False
    try:
        (admin or _kafka_admin()).list_topics(timeout=timeout)
        return True
    except KafkaException:
        return False


def kafka_up() -> None:
    """Called by `up`: make sure a broker answers at 127.0.0.1:9092, starting
    ours only if neither ours nor someone else's is already there."""
    if _process_alive("kafka") and _kafka_answers():
        _say(f"kafka: already up at {KAFKA_BOOTSTRAP}")
    elif _process_alive("kafka") is None and _kafka_answers():
        _say(f"kafka: a broker we did not start answers at {KAFKA_BOOTSTRAP}; using it")
        _update_state("kafka", {"mode": "external"})
    else:
        if _process_alive("kafka"):
            _say("kafka: our broker is running but not answering; restarting it")
        _stop_process("kafka")  # clears a stale pid file too
        _check_kafka_ports_free()
        _start_kafka()
    kafka_coordinators_ready(KAFKA_BOOTSTRAP)


def kafka_coordinators_ready(bootstrap: str, timeout_s: float = KAFKA_COORDINATORS_TIMEOUT_S) -> float:
    """Returns once the broker's group and transaction coordinators answer (seconds waited), so the
    first command after `up` never meets a coordinator still loading; raises DevstackError after
    `timeout_s` naming the coordinator and the broker's log."""
    try:
        took = wait_for_coordinators(bootstrap, timeout_s)
    except CoordinatorsNotReady as exc:
        raise DevstackError(f"kafka: {exc}; see {_kafka_server_log()}") from exc
    if took > 1.0:
        _say(f"kafka: group and transaction coordinators answer ({took:.1f} s)")
    return took


def _check_kafka_ports_free() -> None:
    """Fail fast, before the JVM starts, if a non-Kafka process holds our ports
    (otherwise the broker dies on bind with a long stack trace)."""
    busy = [
        addr
        for addr in (KAFKA_BOOTSTRAP, KAFKA_CONTROLLER)
        if _port_open(addr.rsplit(":", 1)[0], int(addr.rsplit(":", 1)[1]))
    ]
    if busy:
        raise DevstackError(
            f"kafka: {', '.join(busy)} already in use by a process that is not "
            f"a Kafka broker answering on {KAFKA_BOOTSTRAP}; see `ss -ltnp`"
        )


def _start_kafka() -> None:
    started = time.monotonic()
    _ensure_kafka_jars()
    config = _write_kafka_config()
    _format_kafka_storage(config)
    _say("kafka: starting…")
    admin = _kafka_admin()
    _start_process(
        "kafka",
        _kafka_java_argv("kafka.Kafka", str(config)),
        _kafka_stdout_log(),
        ready=lambda: _kafka_answers(admin, timeout=1.0),
        timeout=KAFKA_READY_TIMEOUT_S,
        extra_logs=[_kafka_server_log()],
    )
    _say(f"kafka: up at {KAFKA_BOOTSTRAP} ({time.monotonic() - started:.1f} s)")


def kafka_down() -> None:
    """Called by `down`: stop the broker we started; leave any other alone."""
    if _load_state().get("kafka", {}).get("mode") == "external":
        _say("kafka: not started by us, leaving it running")
        _update_state("kafka", None)
        return
    _say("kafka: stopping…")
    if _stop_process("kafka"):
        _say("kafka: stopped")
    else:
        _say("kafka: was not running")


def kafka_status() -> ServiceStatus:
    record = _load_state().get("kafka", {})
    pid = _process_alive("kafka")
    detail = f"pid {pid}" if pid else ("not started by us" if record.get("mode") == "external" else "")
    return ServiceStatus("kafka", _kafka_answers(timeout=1.5), KAFKA_BOOTSTRAP, str(_kafka_server_log()), detail)
