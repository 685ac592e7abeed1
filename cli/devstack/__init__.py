"""Local development stack: Kafka (KRaft; one node, or three with `--brokers 3`), a PostgreSQL cluster
and the FCM emulator.

No Docker here, so Kafka runs from Maven Central jars under the user's cache
dir and PostgreSQL comes from Debian's packages. `deploy/compose.yaml` is the
Docker equivalent; both give the same addresses:

    Kafka     127.0.0.1:9092 (three nodes: also 127.0.0.1:9094 and 127.0.0.1:9096)
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
(state file, pid files, start/stop/wait), `kafka` (the single node), `kafka_nodes`
and `kafka_cluster` (several nodes), `postgres`, `fcm` (the FCM emulator). This module composes them into the public entry points.
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
from cli.devstack.kafka_cluster import (
    choose_nodes,
    cluster_down,
    cluster_status,
    cluster_up,
    existing_nodes,
    layout_in_use,
)
from cli.devstack.kafka_nodes import BASE_PORT
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


def up(brokers: int | None = None, base_port: int = BASE_PORT) -> list[ServiceStatus]:
    """Bring up Postgres, Kafka and the FCM emulator (idempotent: running parts are kept).
    ``brokers``: Kafka's nodes (1 to 3; None: as many as the state dir holds, else 1); the first on
    ``base_port``. Raises DevstackError naming the part and its log if one cannot start, or if the
    state dir holds Kafka of another size (see ``kafka_cluster.choose_nodes``)."""
    nodes = choose_nodes(brokers, existing_nodes(), state_dir() / "kafka")
    postgres_up()
    if nodes == 1:
        kafka_up()
    else:
        cluster_up(nodes, base_port)
    fcm_emulator_up()
    return status()


def down() -> None:
    """Stop what `up` started, and nothing else. Kafka first: it is ours for sure."""
    fcm_emulator_down()
    layout = layout_in_use()
    if layout is None:
        kafka_down()
    else:
        cluster_down(layout)
    postgres_down()


def status() -> list[ServiceStatus]:
    """Probe each part (cheap: a metadata call and a SELECT 1); a cluster gives a row per node."""
    layout = layout_in_use()
    kafka = [kafka_status()] if layout is None else cluster_status(layout)
    return [*kafka, postgres_status(), fcm_emulator_status()]


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
