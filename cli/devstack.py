"""Local development stack: a single-node Kafka (KRaft), a PostgreSQL cluster and the FCM emulator.

No Docker here, so Kafka runs from Maven Central jars under the user's cache
dir and PostgreSQL comes from Debian's packages. `deploy/compose.yaml` is the
Docker equivalent; both give the same addresses:

    Kafka     127.0.0.1:9092
    Postgres  postgresql://herald@127.0.0.1:5432/herald
    FCM       http://127.0.0.1:9099 (deploy/fcm_emulator; HERALD_FCM_EMULATOR_PORT)

Entry points: `up()`, `down()`, `status()` / `print_status()`, or
`python -m cli.devstack up|down|status`. Nothing is written inside the repo:
jars go to $HERALD_CACHE_DIR (~/.cache/herald), data, logs, pid files and
`devstack.json` (what `up` started) to $HERALD_STATE_DIR (~/.local/state/herald).

Extra services (e.g. an FCM emulator) use `_start_process` / `_stop_process`,
which give them the same pid files, logs, readiness wait and state records.
"""

from __future__ import annotations

import base64
import glob
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = REPO_ROOT / "deploy"

KAFKA_VERSION = "4.1.1"
KAFKA_BOOTSTRAP = "127.0.0.1:9092"
KAFKA_CONTROLLER = "127.0.0.1:9093"  # must match deploy/kafka/server.properties
KAFKA_READY_TIMEOUT_S = 90.0
KAFKA_JVM_OPTS = ["-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]

PG_DSN = "postgresql://herald@127.0.0.1:5432/herald"
PG_PORT = 5432
PG_ROLE = "herald"
PG_READY_TIMEOUT_S = 30.0
PG_HBA_LINES = (
    f"host    all    {PG_ROLE}    127.0.0.1/32    trust",
    f"host    all    {PG_ROLE}    ::1/128         trust",
)

STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 20


class DevstackError(RuntimeError):
    """A part of the stack could not be brought up or down; the message says
    which, and usually carries the tail of the log that explains why."""


@dataclass
class ServiceStatus:
    """One row of `status()`: is the service answering, where, and its log."""

    name: str
    up: bool
    address: str
    log: str
    detail: str = ""


# --------------------------------------------------------------------------
# Directories, state file, progress output
# --------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where downloaded jars live; shared by every checkout of the repo."""
    return Path(os.environ.get("HERALD_CACHE_DIR") or Path.home() / ".cache" / "herald")


def state_dir() -> Path:
    """Where data, logs, pid files and devstack.json live (created on demand)."""
    path = Path(os.environ.get("HERALD_STATE_DIR") or Path.home() / ".local" / "state" / "herald")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _logs_dir() -> Path:
    path = state_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _say(message: str) -> None:
    """Progress line on stderr, so stdout stays free for `status` output."""
    print(message, file=sys.stderr, flush=True)


def _state_file() -> Path:
    return state_dir() / "devstack.json"


def _load_state() -> dict:
    """Read what earlier `up` calls recorded; a missing or corrupt file means
    we started nothing (so `down` will stop nothing it cannot identify)."""
    try:
        return json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return {}


def _update_state(name: str, record: dict | None) -> None:
    """Replace (or with None, drop) one service's record in devstack.json."""
    state = _load_state()
    if record is None:
        state.pop(name, None)
    else:
        state[name] = record
    tmp = _state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(_state_file())  # atomic, so a crash never leaves half a file


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Last lines of a log for error messages; empty if it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _error_lines(path: Path, scan: int = 300, keep: int = 5) -> list[str]:
    """Recent ERROR / 'Caused by' lines: a Java stack trace pushes the root
    cause out of the last 20 lines, so it is quoted separately."""
    recent = _tail(path, scan).splitlines()
    found = [line for line in recent if " ERROR " in line or " FATAL " in line
             or line.startswith("Caused by:")]
    return list(dict.fromkeys(found))[-keep:]  # drop repeats, keep order


def _failure(message: str, logs: Sequence[Path]) -> DevstackError:
    """Build an error naming each log and quoting its last lines (and, if
    they scrolled out of that tail, its recent error lines)."""
    parts = [message]
    for log in logs:
        tail = _tail(log)
        parts.append(f"--- last {LOG_TAIL_LINES} lines of {log} ---\n{tail or '(empty or missing)'}")
        errors = [line for line in _error_lines(log) if line not in tail]
        if errors:
            parts.append(f"--- recent errors in {log} ---\n" + "\n".join(errors))
    return DevstackError("\n".join(parts))


def _run(argv: Sequence[str], what: str, **kwargs) -> str:
    """Run a short setup command, returning its output; on a non-zero exit
    raise with the command's output, since that is the only diagnosis."""
    try:
        proc = subprocess.run(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
        )
    except FileNotFoundError as exc:
        raise DevstackError(f"{what}: {argv[0]} not found ({exc})") from exc
    if proc.returncode != 0:
        output = "\n".join(proc.stdout.splitlines()[-40:])
        raise DevstackError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{output}")
    return proc.stdout


# --------------------------------------------------------------------------
# Generic detached processes (Kafka, and later e.g. an FCM emulator)
# --------------------------------------------------------------------------


def _pid_file(name: str) -> Path:
    path = state_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{name}.pid"


def _read_pid(name: str) -> int | None:
    try:
        return int(_pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_running(pid: int) -> bool:
    """True if the pid exists and is not a zombie (a zombie is our own dead
    child from this very Python process; reap it so it disappears)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: started by an earlier `up`
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _process_alive(name: str) -> int | None:
    """Pid of the named service if the process we started is still running.
    The command line is compared with the one recorded at start, so a pid
    reused by an unrelated process is never taken for ours (nor killed)."""
    pid = _read_pid(name)
    if pid is None or not _pid_running(pid):
        return None
    argv = _load_state().get(name, {}).get("argv")
    if argv:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            return None
        if [part.decode(errors="replace") for part in cmdline] != argv:
            return None
    return pid


def _start_process(
    name: str,
    argv: Sequence[str],
    log: Path,
    ready: Callable[[], bool],
    timeout: float,
    extra_logs: Sequence[Path] = (),
    env: dict | None = None,
) -> int:
    """Start `argv` detached (own session, so it outlives this CLI and can be
    stopped as a group), append its stdout/stderr to `log`, write its pid
    file and state record, then poll `ready()` until true.

    Raises DevstackError if the process exits or `timeout` passes first; the
    error quotes `log` and `extra_logs`. A process that never got ready is
    stopped, so the next `up` starts clean.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, cwd=state_dir(),
        )
    _pid_file(name).write_text(f"{proc.pid}\n")
    _update_state(name, {"mode": "started", "pid": proc.pid, "argv": list(argv),
                         "log": str(log), "started_at": time.time()})
    _wait_ready(name, proc, ready, timeout, [log, *extra_logs])
    return proc.pid


def _wait_ready(name, proc, ready, timeout, logs) -> None:
    """Poll `ready()` while the process lives; see `_start_process`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _forget_process(name)
            raise _failure(f"{name}: process exited with code {proc.returncode} before it was ready", logs)
        if ready():
            return
        time.sleep(0.5)
    _stop_process(name)
    raise _failure(f"{name}: not ready after {timeout:.0f} s (stopped it again)", logs)


def _forget_process(name: str) -> None:
    _pid_file(name).unlink(missing_ok=True)
    _update_state(name, None)


def _stop_process(name: str, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the process group of a service we started: SIGTERM, wait up to
    `timeout`, then SIGKILL. Returns False if it was not running. Processes
    we did not start (no pid file, or pid reused) are never signalled."""
    pid = _process_alive(name)
    if pid is None:
        _forget_process(name)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _pid_running(pid):
        _say(f"{name}: still running after {timeout:.0f} s, sending SIGKILL")
        _signal_group(pid, signal.SIGKILL)
        while _pid_running(pid):
            time.sleep(0.1)
    _forget_process(name)
    return True


def _signal_group(pid: int, sig: int) -> None:
    """Signal the whole session we created (pgid == pid via start_new_session),
    so helper children die with the service."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------


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
    _run(["mvn", "-q", "-B", "-f", str(DEPLOY_DIR / "kafka" / "pom.xml"),
          "dependency:copy-dependencies", "-DincludeScope=runtime",
          f"-DoutputDirectory={_kafka_libs()}"], "kafka: jar fetch")
    jars = sorted(p.name for p in _kafka_libs().glob("*.jar"))
    marker.write_text("\n".join(jars) + "\n")
    _say(f"kafka: {len(jars)} jars in {_kafka_libs()} ({time.monotonic() - started:.1f} s)")


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise DevstackError("kafka: java not found; install a JDK 17+ (apt-get install -y openjdk-17-jre-headless)")
    return java


def _kafka_java_argv(main_class: str, *args: str) -> list[str]:
    """A java command line on the fetched jars with our log4j2 config; used
    for both StorageTool and the broker, which must share one jar set."""
    return [
        _java(), *KAFKA_JVM_OPTS, "-cp", f"{_kafka_libs()}/*",
        f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'kafka' / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={_logs_dir()}",
        main_class, *args,
    ]


def _kafka_data_dir() -> Path:
    return _kafka_state() / "data"


def _write_kafka_config() -> Path:
    """Render deploy/kafka/server.properties into the state dir (every `up`,
    so template edits take effect on the next start)."""
    template = (DEPLOY_DIR / "kafka" / "server.properties").read_text()
    target = _kafka_state() / "server.properties"
    target.write_text(template.replace("@KAFKA_DATA_DIR@", str(_kafka_data_dir())))
    return target


def _kafka_cluster_id() -> str:
    """The cluster id, generated once and kept: a formatted log dir only
    accepts the id it was formatted with."""
    path = _kafka_state() / "cluster-id"
    if path.exists():
        return path.read_text().strip()
    cluster_id = "-"
    while cluster_id.startswith("-"):  # a leading '-' would read as a CLI flag
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    path.write_text(cluster_id + "\n")
    return cluster_id


def _format_kafka_storage(config: Path) -> None:
    """Format the KRaft log dir on first start only (meta.properties marks a
    formatted dir; formatting again would refuse or wipe the metadata)."""
    if (_kafka_data_dir() / "meta.properties").exists():
        return
    _say("kafka: formatting storage…")
    argv = _kafka_java_argv("kafka.tools.StorageTool", "format",
                            "-t", _kafka_cluster_id(), "-c", str(config))
    _run(argv, "kafka: storage format", cwd=state_dir())


def _silent_logger() -> logging.Logger:
    """librdkafka prints 'Connection refused' lines while the broker is down;
    route them into a logger that drops them."""
    logger = logging.getLogger("herald.devstack.librdkafka")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _kafka_admin():
    from confluent_kafka.admin import AdminClient

    return AdminClient({
        "bootstrap.servers": KAFKA_BOOTSTRAP,
        "logger": _silent_logger(),
        # The default backoff grows to 10 s, which would add seconds to startup.
        "reconnect.backoff.max.ms": 500,
    })


def _port_open(host: str, port: int) -> bool:
    """Cheap pre-check: a refused connect answers in microseconds, whereas a
    metadata call against a closed port only gives up at its timeout."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


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
        return
    if _process_alive("kafka") is None and _kafka_answers():
        _say(f"kafka: a broker we did not start answers at {KAFKA_BOOTSTRAP}; using it")
        _update_state("kafka", {"mode": "external"})
        return
    if _process_alive("kafka"):
        _say("kafka: our broker is running but not answering; restarting it")
    _stop_process("kafka")  # clears a stale pid file too
    _check_kafka_ports_free()
    _start_kafka()


def _check_kafka_ports_free() -> None:
    """Fail fast, before the JVM starts, if a non-Kafka process holds our ports
    (otherwise the broker dies on bind with a long stack trace)."""
    busy = [addr for addr in (KAFKA_BOOTSTRAP, KAFKA_CONTROLLER)
            if _port_open(addr.rsplit(":", 1)[0], int(addr.rsplit(":", 1)[1]))]
    if busy:
        raise DevstackError(f"kafka: {', '.join(busy)} already in use by a process that is not "
                            f"a Kafka broker answering on {KAFKA_BOOTSTRAP}; see `ss -ltnp`")


def _start_kafka() -> None:
    started = time.monotonic()
    _ensure_kafka_jars()
    config = _write_kafka_config()
    _format_kafka_storage(config)
    _say("kafka: starting…")
    admin = _kafka_admin()
    _start_process("kafka", _kafka_java_argv("kafka.Kafka", str(config)), _kafka_stdout_log(),
                   ready=lambda: _kafka_answers(admin, timeout=1.0),
                   timeout=KAFKA_READY_TIMEOUT_S, extra_logs=[_kafka_server_log()])
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
    return ServiceStatus("kafka", _kafka_answers(timeout=1.5), KAFKA_BOOTSTRAP,
                         str(_kafka_server_log()), detail)


# --------------------------------------------------------------------------
# PostgreSQL (Debian's postgresql + postgresql-common tools)
# --------------------------------------------------------------------------


def _ensure_postgres_installed() -> None:
    """Called by `up`: install Debian's postgresql if no server binary exists.
    Failure usually means apt cannot reach its mirror; apt's output says."""
    if glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        return
    _say("postgres: installing Debian package postgresql…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], "postgres: apt-get update", env=env)
    _run(["apt-get", "install", "-y", "postgresql"], "postgres: apt-get install", env=env)


def _pg_clusters() -> list[dict]:
    """The clusters known to postgresql-common, as pg_lsclusters -j reports them."""
    return json.loads(_run(["pg_lsclusters", "-j"], "postgres: pg_lsclusters") or "[]")


def _pg_cluster() -> dict:
    """The cluster to use: the one on port 5432, created as <newest ver>/main
    if there is none at all. A cluster set up on another port is an error,
    because every DSN in the project says 5432."""
    clusters = _pg_clusters()
    if not clusters:
        version = max(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_pg_bin_version)
        version = str(_pg_bin_version(version))
        _say(f"postgres: creating cluster {version}/main…")
        _run(["pg_createcluster", version, "main"], "postgres: pg_createcluster")
        clusters = _pg_clusters()
    for cluster in clusters:
        if int(cluster["port"]) == PG_PORT:
            return cluster
    names = ", ".join(f"{c['version']}/{c['cluster']} on {c['port']}" for c in clusters)
    raise DevstackError(f"postgres: no cluster on port {PG_PORT} (found {names})")


def _pg_bin_version(path: str) -> int:
    return int(Path(path).parts[-3])


def _pg_name(cluster: dict) -> tuple[str, str]:
    return str(cluster["version"]), str(cluster["cluster"])


def _pg_log(cluster: dict) -> Path:
    version, name = _pg_name(cluster)
    return Path(cluster.get("logfile") or f"/var/log/postgresql/postgresql-{version}-{name}.log")


def _pg_start(cluster: dict) -> None:
    """Start the cluster if it is down and record that we did, so `down`
    stops it; a cluster that was already running is left to its owner."""
    version, name = _pg_name(cluster)
    previous = _load_state().get("postgres", {})
    started_by_us = bool(previous.get("started_by_us")) and previous.get("cluster") == f"{version}/{name}"
    if not cluster.get("running"):
        _say(f"postgres: starting cluster {version}/{name}…")
        try:
            _run(["pg_ctlcluster", version, name, "start"], "postgres: pg_ctlcluster start")
        except DevstackError as exc:
            raise _failure(str(exc), [_pg_log(cluster)]) from exc
        started_by_us = True
    _update_state("postgres", {"cluster": f"{version}/{name}", "started_by_us": started_by_us,
                               "log": str(_pg_log(cluster))})


def _psql(cluster: dict, sql: str) -> str:
    """Run SQL as the postgres superuser over the Unix socket (peer auth).
    cwd=/ because the postgres user may not be able to enter the repo dir."""
    argv = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
            "-p", str(cluster["port"]), "-d", "postgres", "-c", sql]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    else:
        argv = ["sudo", "-n", "-u", "postgres", *argv]
    return _run(argv, "postgres: psql", cwd="/").strip()


def _pg_ensure_role_and_db(cluster: dict) -> None:
    """Create role and database `herald` unless they exist (idempotent)."""
    if not _psql(cluster, f"SELECT 1 FROM pg_roles WHERE rolname = '{PG_ROLE}'"):
        _say(f"postgres: creating role {PG_ROLE}")
        _psql(cluster, f"CREATE ROLE {PG_ROLE} LOGIN CREATEDB")
    if not _psql(cluster, f"SELECT 1 FROM pg_database WHERE datname = '{PG_ROLE}'"):
        _say(f"postgres: creating database {PG_ROLE}")
        _psql(cluster, f"CREATE DATABASE {PG_ROLE} OWNER {PG_ROLE}")


def _hba_with_trust(lines: list[str]) -> list[str]:
    """pg_hba.conf lines with our trust lines placed before the first `host*`
    rule (first match wins, so after Debian's scram lines they'd never apply).
    Existing copies of our lines are removed first, which makes it idempotent."""
    ours = {" ".join(line.split()) for line in PG_HBA_LINES}
    kept = [line for line in lines if " ".join(line.split()) not in ours
            and line.strip() != "# herald devstack: passwordless local access"]
    first_host = next((i for i, line in enumerate(kept) if line.split()[:1]
                       and line.split()[0].startswith("host")), len(kept))
    block = ["# herald devstack: passwordless local access", *PG_HBA_LINES]
    return kept[:first_host] + block + kept[first_host:]


def _pg_ensure_hba(cluster: dict) -> None:
    """Let role herald in over TCP without a password; reload only if changed."""
    path = Path(_psql(cluster, "SHOW hba_file"))
    lines = path.read_text().splitlines()
    wanted = _hba_with_trust(lines)
    if wanted == lines:
        return
    _say(f"postgres: adding trust lines for {PG_ROLE} to {path}")
    path.write_text("\n".join(wanted) + "\n")  # in place: keeps owner and mode
    _psql(cluster, "SELECT pg_reload_conf()")


def _pg_answers(timeout: float = 2.0) -> bool:
    """True if role herald can connect to database herald and run SELECT 1."""
    import psycopg

    try:
        with psycopg.connect(PG_DSN, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1").fetchone()
        return True
    except psycopg.Error:
        return False


def _pg_wait_ready(cluster: dict) -> None:
    deadline = time.monotonic() + PG_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if _pg_answers():
            return
        time.sleep(0.5)
    raise _failure(f"postgres: {PG_DSN} not answering after {PG_READY_TIMEOUT_S:.0f} s",
                   [_pg_log(cluster)])


def postgres_up() -> None:
    """Called by `up`: install, create/start the cluster, ensure role, db and
    pg_hba trust, then wait until the project DSN answers."""
    started = time.monotonic()
    _ensure_postgres_installed()
    cluster = _pg_cluster()
    was_running = bool(cluster.get("running"))
    _pg_start(cluster)
    _pg_ensure_role_and_db(cluster)
    _pg_ensure_hba(cluster)
    _pg_wait_ready(cluster)
    state = "already up" if was_running else "up"
    _say(f"postgres: {state} at {PG_DSN} ({time.monotonic() - started:.1f} s)")


def postgres_down() -> None:
    """Called by `down`: stop the cluster only if our `up` started it."""
    record = _load_state().get("postgres", {})
    if not record.get("started_by_us"):
        _say("postgres: not started by us, leaving it alone")
        return
    version, name = record["cluster"].split("/", 1)
    _say(f"postgres: stopping cluster {version}/{name}…")
    _run(["pg_ctlcluster", version, name, "stop"], "postgres: pg_ctlcluster stop")
    _update_state("postgres", {**record, "started_by_us": False})
    _say("postgres: stopped")


def postgres_status() -> ServiceStatus:
    record = _load_state().get("postgres", {})
    log = record.get("log")
    if not log:
        try:
            log = str(_pg_log(_pg_cluster()))
        except (DevstackError, ValueError, KeyError):
            log = "-"
    up = _pg_answers()
    detail = f"cluster {record['cluster']}" if record.get("cluster") else ""
    if up and not record.get("started_by_us"):
        detail += " (not started by us)"  # so `down` will leave it running
    return ServiceStatus("postgres", up, PG_DSN, log, detail.strip())


# --------------------------------------------------------------------------
# FCM emulator (deploy/fcm_emulator: FCM HTTP v1 + OAuth token endpoint)
# --------------------------------------------------------------------------

FCM_EMULATOR_HOST = "127.0.0.1"
FCM_EMULATOR_READY_TIMEOUT_S = 20.0


def fcm_emulator_port() -> int:
    """9099 unless HERALD_FCM_EMULATOR_PORT says otherwise."""
    return int(os.environ.get("HERALD_FCM_EMULATOR_PORT") or 9099)


def fcm_emulator_url() -> str:
    return f"http://{FCM_EMULATOR_HOST}:{fcm_emulator_port()}"


def default_fcm_env(environ) -> dict[str, str]:
    """Env for local runs of the push sender: the emulator, unless FCM is configured (an endpoint,
    a service-account file, or Google application credentials)."""
    configured = ("HERALD_FCM_ENDPOINT", "HERALD_FCM_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS")
    return {} if any(environ.get(name) for name in configured) else {"HERALD_FCM_ENDPOINT": fcm_emulator_url()}


def _fcm_emulator_log() -> Path:
    return _logs_dir() / "fcm-emulator.log"


def _fcm_emulator_answers(timeout: float = 1.0) -> bool:
    """True if GET /healthz answers 200 (one short HTTP call, stdlib only)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{fcm_emulator_url()}/healthz", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def fcm_emulator_up() -> None:
    """Called by `up`: start the emulator unless ours (or another one) already answers."""
    if _fcm_emulator_answers():
        _say(f"fcm-emulator: already up at {fcm_emulator_url()}")
        if _process_alive("fcm-emulator") is None:
            _update_state("fcm-emulator", {"mode": "external"})
        return
    _stop_process("fcm-emulator")  # clears a stale pid file
    if _port_open(FCM_EMULATOR_HOST, fcm_emulator_port()):
        raise DevstackError(f"fcm-emulator: port {fcm_emulator_port()} is taken by something that is not "
                            "the emulator; set HERALD_FCM_EMULATOR_PORT")
    argv = [sys.executable, "-m", "deploy.fcm_emulator", "--host", FCM_EMULATOR_HOST, "--port", str(fcm_emulator_port())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    _start_process("fcm-emulator", argv, _fcm_emulator_log(), ready=_fcm_emulator_answers,
                   timeout=FCM_EMULATOR_READY_TIMEOUT_S, env=env)
    _say(f"fcm-emulator: up at {fcm_emulator_url()}")


def fcm_emulator_down() -> None:
    """Called by `down`: stop the emulator we started; leave any other alone."""
    if _load_state().get("fcm-emulator", {}).get("mode") == "external":
        _update_state("fcm-emulator", None)
        _say("fcm-emulator: not started by us, leaving it running")
        return
    _say("fcm-emulator: stopped" if _stop_process("fcm-emulator") else "fcm-emulator: was not running")


def fcm_emulator_status() -> ServiceStatus:
    pid = _process_alive("fcm-emulator")
    return ServiceStatus("fcm-emulator", _fcm_emulator_answers(), fcm_emulator_url(), str(_fcm_emulator_log()),
                         f"pid {pid}" if pid else "")


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------


def up() -> list[ServiceStatus]:
    """Bring up Postgres, Kafka and the FCM emulator (idempotent: running parts are kept).
    Raises DevstackError naming the part and its log if one cannot start."""
    postgres_up()
    kafka_up()
    fcm_emulator_up()
    return status()


def down() -> None:
    """Stop what `up` started, and nothing else. Kafka first: it is ours for sure."""
    fcm_emulator_down()
    kafka_down()
    postgres_down()


def status() -> list[ServiceStatus]:
    """Probe each part (cheap: a metadata call and a SELECT 1)."""
    return [kafka_status(), postgres_status(), fcm_emulator_status()]


def print_status(rows: list[ServiceStatus] | None = None) -> None:
    """Print `status()` as a rich table (rich is imported only here)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="herald devstack")
    for column in ("service", "state", "address", "log", "detail"):
        table.add_column(column, overflow="fold")  # paths must stay copyable
    for row in rows if rows is not None else status():
        state = "[green]up[/]" if row.up else "[red]down[/]"
        table.add_row(row.name, state, row.address, row.log, row.detail)
    # Piped output (CI logs) gets rich's 80 columns otherwise, folding paths.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def main(argv: Sequence[str]) -> int:
    commands = {"up": lambda: print_status(up()), "down": down, "status": print_status}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: python -m cli.devstack up|down|status", file=sys.stderr)
        return 2
    try:
        commands[argv[0]]()
    except DevstackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
