"""Benchmark of the read API: feed pages (first and deep) and the unread count, over HTTP.

    .venv/bin/python bench/api.py [--events 1000000] [--notifications 100000] [--requests 1000]
                                  [--concurrency 1,4] [--reuse]
    .venv/bin/python bench/api.py --saturation [--concurrency 1,10,100,1000] [--seconds 10] [--reuse]

Creates (or, with --reuse, keeps) the database ``herald_bench_api`` next to HERALD_DATABASE_URL,
migrates it, COPYs ``--events`` events into one organization (the worst case for the organization
index) and ``--notifications`` unread notifications for one user (400 for each of the others),
starts ``python -m api`` as a subprocess, and measures p50/p95/p99 with concurrent
aiohttp requests (the client shares the 2 CPUs with the API and Postgres; aiohttp's C parser
costs ~1–2 ms less per request here than httpx, which would be charged to the API). Prints the EXPLAIN (ANALYZE, BUFFERS) of each statement.

The world: 20,000 patients, 500 users, 3 clinicians per care team (a physician is on ~120 teams, so
~1% of the organization's events are visible to them: each feed page filters ~50 / 1% rows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import queries  # noqa: E402
from api.auth import issue_token  # noqa: E402
from api.cursor import Position, decode_cursor, encode_cursor  # noqa: E402
from api.settings import DEV_JWT_SECRET  # noqa: E402
from processors.catalogue import lookup  # noqa: E402
from processors.visibility import Viewer  # noqa: E402
from sinks.postgres.engine import raw_connection  # noqa: E402
from sinks.postgres.migrate import upgrade  # noqa: E402
from streams.settings import PostgresSettings  # noqa: E402

DB_NAME = "herald_bench_api"
ORG = "bench-org"
PATIENTS, USERS, TEAM = 20_000, 500, 3
PHYSICIAN, DIRECTOR, DESK = "bench-u0002", "bench-u0001", "bench-u0003"
MIX = [
    ("APPOINTMENT_SCHEDULED", 20, True),
    ("APPOINTMENT_CHECKED_IN", 10, True),
    ("APPOINTMENT_CANCELLED", 4, True),
    ("LAB_RESULT_RECEIVED", 15, True),
    ("LAB_RESULT_CRITICAL", 1, True),
    ("MEDICATION_PRESCRIBED", 10, True),
    ("ENCOUNTER_SIGNED", 10, True),
    ("PATIENT_UPDATED", 10, True),
    ("PATIENT_REGISTERED", 5, True),
    ("DOCUMENT_UPLOADED", 6, True),
    ("TASK_ASSIGNED", 5, True),
    ("AUDIT_ACCESS", 3, True),
    ("ANNOUNCEMENT", 0.5, False),
    ("ANNOUNCEMENT_URGENT", 0.2, False),
    ("USER_ROLE_CHANGED", 0.3, False),
]
EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "priority",
    "occurred_at",
    "organization_id",
    "actor_user_id",
    "patient_id",
    "resource_type",
    "resource_id",
    "title",
    "notify",
    "visibility",
    "source",
)
BELL_COLUMNS = (
    "notification_id",
    "user_id",
    "organization_id",
    "event_id",
    "event_type",
    "priority",
    "reason",
    "patient_id",
    "occurred_at",
    "created_at",
)


def bench_url(base: str) -> str:
    return make_url(base).set(database=DB_NAME).render_as_string(hide_password=False)


def create_database(base: str) -> None:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()


def _user(i: int) -> str:
    return f"bench-u{i:04d}"


def world(rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    """Directory users (id, roles, supervisor) and care-team rows (patient, user)."""
    roles = {1: "medical_director", 2: "physician", 3: "front_desk"}
    users = [
        (
            _user(i),
            roles.get(i) or rng.choice(["physician", "nurse", "nurse", "lab_technician", "front_desk"]),
            None if i == 1 else _user(1),
        )
        for i in range(1, USERS + 1)
    ]
    clinicians = [u for u, role, _ in users if role in ("physician", "nurse", "lab_technician")]
    team = [(f"p{p:06d}", u) for p in range(PATIENTS) for u in rng.sample(clinicians, TEAM)]
    return users, team


def events(rng: random.Random, count: int, start: datetime) -> list[tuple]:
    types, weights = [m[0] for m in MIX], [m[1] for m in MIX]
    step = timedelta(days=365) / count
    rows = []
    for i, event_type in enumerate(rng.choices(types, weights, k=count)):
        entry = lookup(event_type)
        about_patient = event_type not in ("ANNOUNCEMENT", "ANNOUNCEMENT_URGENT", "USER_ROLE_CHANGED")
        patient = f"p{rng.randrange(PATIENTS):06d}" if about_patient else None
        rows.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                event_type,
                entry.priority.value,
                start + i * step,
                ORG,
                _user(rng.randrange(1, USERS + 1)),
                patient,
                "Resource" if patient else None,
                f"r-{i:x}" if patient else None,
                f"{entry.push_title} for patient {patient}" if patient else entry.push_title,
                event_type in ("LAB_RESULT_RECEIVED", "LAB_RESULT_CRITICAL"),
                entry.visibility.value,
                "bench",
            )
        )
    return rows


def load(url: str, n_events: int, n_notifications: int) -> None:
    rng = random.Random(42)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    users, team = world(rng)
    engine = create_engine(url)
    t0 = time.monotonic()
    with engine.begin() as conn, raw_connection(conn).cursor() as cur:
        _copy(
            cur,
            "directory_users",
            ("user_id", "organization_id", "roles", "active", "supervisor_user_id", "changed_at"),
            [(u, ORG, [r], True, s, start) for u, r, s in users],
        )
        _copy(
            cur,
            "care_team_members",
            ("patient_id", "user_id", "organization_id", "active", "changed_at"),
            [(p, u, ORG, True, start) for p, u in team],
        )
        rows = events(rng, n_events, start)
        for i in range(0, len(rows), 100_000):
            _copy(cur, "activity_events", EVENT_COLUMNS, rows[i : i + 100_000])
        _copy(
            cur,
            "user_notifications",
            BELL_COLUMNS,
            [
                (uuid.uuid5(r[0], user), user, ORG, r[0], r[1], r[2], "care_team", r[6], r[3], r[3])
                for user, count in ((PHYSICIAN, n_notifications), *((_user(i), 400) for i in range(4, USERS + 1)))
                for r in rng.sample(rows, min(count, len(rows)))
            ],
        )
    print(
        f"loaded {n_events:,} events and {n_notifications:,} notifications for {PHYSICIAN} "
        f"(+400 for each other user) in {time.monotonic() - t0:.0f}s"
    )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def _copy(cur, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# --- the server and the client -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_api(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "HERALD_ENV": "dev",
        "HERALD_DATABASE_URL": url,
        "HERALD_API_PORT": str(port),
        "HERALD_API_WORKERS": str(workers),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "api"], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the API did not become ready")


async def measure(
    base: str,
    path: str,
    token: str,
    requests: int,
    concurrency: int,
    seconds: float | None = None,
    statuses: dict | None = None,
) -> list[float]:
    """``requests`` in all (or, with ``seconds``, as many as fit), ``concurrency`` in flight. Every
    answer's status is counted in ``statuses``; a connection error counts as status 0."""
    latencies: list[float] = []
    queue = iter(range(requests)) if seconds is None else iter(int, 1)
    deadline = None if seconds is None else time.perf_counter() + seconds
    statuses = {} if statuses is None else statuses
    async with aiohttp.ClientSession(
        base,
        headers={"Authorization": f"Bearer {token}"},
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=120),
    ) as client:

        async def get() -> int:
            try:
                async with client.get(path) as response:
                    await response.read()
                    return response.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return 0

        async def worker() -> None:
            for _ in queue:
                if deadline is not None and time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                status = await get()
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(time.perf_counter() - started)

        for _ in range(50):  # warm-up: connections, prepared statements, caches
            await get()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def report(name: str, latencies: list[float], seconds: float) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    figures = {
        "scenario": name,
        "requests": len(ms),
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "rps": round(len(ms) / seconds),
    }
    print(f"  {name:<38} p50 {q[49]:6.2f} ms   p95 {q[94]:6.2f} ms   p99 {q[98]:6.2f} ms   {figures['rps']:>5} req/s")
    return figures


def deep_cursor(url: str, depth_fraction: float) -> str:
    """A cursor as if the client had paged ``depth_fraction`` of the way into the organization's events."""
    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.execute(
            text("SELECT count(*) FROM activity_events WHERE organization_id = :o"), {"o": ORG}
        ).scalar()
        at, event_id = conn.execute(
            text(
                "SELECT occurred_at, event_id FROM activity_events WHERE organization_id = :o "
                "ORDER BY occurred_at DESC, event_id DESC OFFSET :n LIMIT 1"
            ),
            {"o": ORG, "n": int(total * depth_fraction)},
        ).one()
    engine.dispose()
    return encode_cursor(at, event_id)


def explain(url: str, viewer: Viewer, deep: Position) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements the scenarios run, with the physician's parameters."""
    engine = create_engine(url)
    with engine.connect() as conn:
        _, _, facts = queries.load_caller(session=conn, viewer=viewer)
        params = queries.visibility_params(viewer=viewer, facts=facts) | {
            "at": deep.at,
            "id": deep.row_id,
            "cap": queries.UNREAD_CAP + 1,
        }
        feed = f"SELECT e.* FROM activity_events e WHERE {queries.VISIBLE} {{}} ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT 51"
        mine = "n.user_id = :viewer AND n.organization_id = :org AND n.read_at IS NULL"
        statements = [
            ("feed, first page", feed.format("")),
            ("feed, deep page", feed.format("AND (e.occurred_at, e.event_id) < (:at, :id)")),
            ("unread count (capped)", f"SELECT count(*) FROM ({queries.UNREAD_SQL}) c"),
            ("unread count (plain, for comparison)", f"SELECT count(*) FROM user_notifications n WHERE {mine}"),
        ]
        for name, sql in statements:
            plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}"), params).scalars().all()
            print(f"\n-- EXPLAIN {name}\n" + "\n".join(plan))
    engine.dispose()


def saturation(base: str, token: str, args, pid: int, results: list) -> None:
    """Many clients at once on the heaviest common page; a 5xx or a connection error is a failure."""
    print(
        f"\nGET /v1/feed?limit=200 for {args.seconds:.0f} s per level; {os.cpu_count()} CPUs shared by "
        f"Postgres, the API and this client"
    )
    for concurrency in (int(c) for c in str(args.concurrency).split(",")):
        statuses: dict[int, int] = {}
        started = time.perf_counter()
        latencies = asyncio.run(measure(base, "/v1/feed?limit=200", token, 0, concurrency, args.seconds, statuses))
        figures = report(f"{concurrency} in flight", latencies, time.perf_counter() - started)
        errors = sum(n for status, n in statuses.items() if status == 0 or status >= 500)
        rss = peak_rss_mb(pid)
        print(f"    statuses {dict(sorted(statuses.items()))}; errors {errors}; API peak RSS so far {rss:.0f} MB")
        results.append(
            figures | {"concurrency": concurrency, "statuses": statuses, "errors": errors, "peak_rss_mb": round(rss)}
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--notifications", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--concurrency",
        default="1,4",
        help="clients in flight; a comma-separated list measures each (the target is for one user)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database of an earlier run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--saturation",
        action="store_true",
        help="only GET /v1/feed?limit=200 (the heaviest common page), for --seconds at each "
        "--concurrency (default 1,10,100,1000): throughput, p50/p99, statuses, peak RSS",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level with --saturation")
    args = parser.parse_args()
    if args.saturation and args.concurrency == "1,4":
        args.concurrency = "1,10,100,1000"
    url = bench_url(PostgresSettings().database_url)
    if not args.reuse:
        create_database(PostgresSettings().database_url)
        upgrade(url)
        load(url, args.events, args.notifications)
    physician = Viewer(PHYSICIAN, ORG, frozenset({"physician"}))
    deep = deep_cursor(url, 0.9)
    tokens = {
        name: issue_token(DEV_JWT_SECRET, user_id=user, organization_id=ORG, roles=[role], ttl_s=3600)
        for name, user, role in (
            ("physician", PHYSICIAN, "physician"),
            ("director", DIRECTOR, "medical_director"),
            ("desk", DESK, "front_desk"),
        )
    }
    scenarios = [
        ("feed first page (physician, ~1% visible)", "/v1/feed?limit=50", "physician"),
        ("feed deep page, 90% down (physician)", f"/v1/feed?limit=50&cursor={deep}", "physician"),
        ("feed first page (medical director)", "/v1/feed?limit=50", "director"),
        ("feed deep page (medical director)", f"/v1/feed?limit=50&cursor={deep}", "director"),
        ("feed first page (front desk)", "/v1/feed?limit=50", "desk"),
        ("feed deep page (front desk)", f"/v1/feed?limit=50&cursor={deep}", "desk"),
        ("unread count (100k unread)", "/v1/notifications/unread-count", "physician"),
        ("bell first page, unread", "/v1/notifications?unread=true&limit=50", "physician"),
    ]
    port = free_port()
    server = start_api(url, port, args.workers)
    results = []
    if args.saturation:
        try:
            saturation(f"http://127.0.0.1:{port}", tokens["physician"], args, server.pid, results)
        finally:
            server.terminate()
            server.wait(15)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return
    try:
        for concurrency in (int(c) for c in str(args.concurrency).split(",")):
            print(
                f"\n{args.requests} requests per scenario, {concurrency} concurrent, {args.workers} worker(s); "
                f"{os.cpu_count()} CPUs shared by Postgres, the API and this client"
            )
            for name, path, who in scenarios:
                started = time.perf_counter()
                latencies = asyncio.run(
                    measure(f"http://127.0.0.1:{port}", path, tokens[who], args.requests, concurrency)
                )
                results.append(report(name, latencies, time.perf_counter() - started) | {"concurrency": concurrency})
    finally:
        server.terminate()
        server.wait(15)
    explain(url, physician, decode_cursor(deep))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
