"""PostgreSQL: Debian's postgresql + postgresql-common tools, a cluster on
port 5432 with role and database `herald`, reachable over TCP without a
password (pg_hba trust lines for that role only), and the role's planner
settings (PG_ROLE_SETTINGS)."""

from __future__ import annotations

import glob
import json
import os
import time
from pathlib import Path

from cli.devstack.errors import DevstackError, _failure
from cli.devstack.process import _load_state, _run, _update_state
from cli.devstack.report import ServiceStatus, _say

PG_DSN = "postgresql://herald@127.0.0.1:5432/herald"
PG_PORT = 5432
PG_ROLE = "herald"
PG_READY_TIMEOUT_S = 30.0
# Herald's per-batch statements look keys up in arrays (`WHERE notification_id = ANY(:ids)`). At the
# default random_page_cost (4, priced for spinning disks) Postgres reads a 30,000-row table whole once
# a batch holds ~400 keys, which a push sender that fell behind does: its Postgres CPU tripled and the
# slower batches grew further (docs/decisions/0034-postgres-random-page-cost.md). 1.1 is the usual value
# for SSDs and cached data; set on the role, so only Herald's database sessions get it.
PG_ROLE_SETTINGS = {"random_page_cost": "1.1"}
PG_HBA_LINES = (
    f"host    all    {PG_ROLE}    127.0.0.1/32    trust",
    f"host    all    {PG_ROLE}    ::1/128         trust",
)


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
    _update_state(
        "postgres", {"cluster": f"{version}/{name}", "started_by_us": started_by_us, "log": str(_pg_log(cluster))}
    )


def _psql(cluster: dict, sql: str) -> str:
    """Run SQL as the postgres superuser over the Unix socket (peer auth).
    cwd=/ because the postgres user may not be able to enter the repo dir."""
    argv = [
        "psql",
        "-X",
        "-q",
        "-t",
        "-A",
        "-v",
        "ON_ERROR_STOP=1",
        "-p",
        str(cluster["port"]),
        "-d",
        "postgres",
        "-c",
        sql,
    ]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    else:
        argv = ["sudo", "-n", "-u", "postgres", *argv]
    return _run(argv, "postgres: psql", cwd="/").strip()


def _pg_ensure_role_and_db(cluster: dict) -> None:
    """Create role and database `herald` unless they exist, set the role's settings (idempotent)."""
    if not _psql(cluster, f"SELECT 1 FROM pg_roles WHERE rolname = '{PG_ROLE}'"):
        _say(f"postgres: creating role {PG_ROLE}")
        _psql(cluster, f"CREATE ROLE {PG_ROLE} LOGIN CREATEDB")
    if not _psql(cluster, f"SELECT 1 FROM pg_database WHERE datname = '{PG_ROLE}'"):
        _say(f"postgres: creating database {PG_ROLE}")
        _psql(cluster, f"CREATE DATABASE {PG_ROLE} OWNER {PG_ROLE}")
    for name, value in PG_ROLE_SETTINGS.items():  # idempotent; applies to the role's new sessions
        _psql(cluster, f"ALTER ROLE {PG_ROLE} SET {name} = {value}")


def _hba_with_trust(lines: list[str]) -> list[str]:
    """pg_hba.conf lines with our trust lines placed before the first `host*`
    rule (first match wins, so after Debian's scram lines they'd never apply).
    Existing copies of our lines are removed first, which makes it idempotent."""
    ours = {" ".join(line.split()) for line in PG_HBA_LINES}
    kept = [
        line
        for line in lines
        if " ".join(line.split()) not in ours and line.strip() != "# herald devstack: passwordless local access"
    ]
    first_host = next(
        (i for i, line in enumerate(kept) if line.split()[:1] and line.split()[0].startswith("host")), len(kept)
    )
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
    raise _failure(f"postgres: {PG_DSN} not answering after {PG_READY_TIMEOUT_S:.0f} s", [_pg_log(cluster)])


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
