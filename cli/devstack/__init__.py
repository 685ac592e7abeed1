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

One module per part: `paths` (cache and state dirs), `errors` (DevstackError
and log quotes), `report` (ServiceStatus rows, progress lines), `process`
(state file, pid files, start/stop/wait), `kafka`, `postgres`, `fcm` (the FCM
emulator). This module composes them into the public entry points.
"""

from __future__ import annotations

import sys
from typing import Sequence

# The public API of cli.devstack, as before the split into a package.
from cli.devstack.errors import LOG_TAIL_LINES, DevstackError
from cli.devstack.fcm import (
    FCM_EMULATOR_HOST,
    FCM_EMULATOR_READY_TIMEOUT_S,
    default_fcm_env,
    fcm_emulator_down,
    fcm_emulator_port,
    fcm_emulator_status,
    fcm_emulator_up,
    fcm_emulator_url,
)
from cli.devstack.kafka import (
    KAFKA_BOOTSTRAP,
    KAFKA_CONTROLLER,
    KAFKA_JVM_OPTS,
    KAFKA_READY_TIMEOUT_S,
    KAFKA_VERSION,
    kafka_down,
    kafka_status,
    kafka_up,
)
from cli.devstack.paths import DEPLOY_DIR, REPO_ROOT, cache_dir, state_dir
from cli.devstack.postgres import (
    PG_DSN,
    PG_HBA_LINES,
    PG_PORT,
    PG_READY_TIMEOUT_S,
    PG_ROLE,
    postgres_down,
    postgres_status,
    postgres_up,
)
from cli.devstack.process import STOP_TIMEOUT_S, _start_process, _stop_process
from cli.devstack.report import ServiceStatus

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
