"""The live streams on the local stack (`make bench-live`): memory per SSE client and commit → client latency.

One API process (``python -m api``: uvicorn serving ``api.main.create_app``, default settings, a scratch
database migrated to head) and ``--clients`` concurrent ``GET /v1/notifications/stream`` clients, each a
different directory user of one of ``--orgs`` organizations, held by a separate client process (asyncio +
httpx). The API runs as its own process so its memory can be read from /proc/<pid>/status.

1. memory: the API's VmRSS with no client connected (after a warm-up of a few streams opened and closed,
   so the imports and first-request allocations are not charged to the clients), then with every client
   connected and holding its initial ``unread-count`` event; the difference divided by the clients.
2. latency: a writer commits bell rows (``INSERT INTO user_notifications``, the columns the fan-out's sink
   writes) at ``--rate`` notifications/s, ``--batch`` rows a transaction, each row for the next user of a
   shuffled round-robin over the clients, for ``--seconds``; it records each row's commit time (when
   COMMIT returned). Each client records when its ``notification`` event arrives. Reported: receive −
   commit p50/p99/max, notifications lost (committed, never received) and duplicates (received twice):
   both must be 0. Target: p99 < 500 ms. The hub's cycles (``herald_api_live_cycle_seconds``, read from
   /metrics before and after) show how much of the latency is the hub's one read per wake-up.

The client process shares the 2 CPUs with the API and Postgres; its own RSS is reported too.

Usage: python bench/live.py [--clients 2000] [--orgs 4] [--rate 200] [--batch 10] [--seconds 30] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from api.auth import issue_token  # noqa: E402
from api.settings import DEV_JWT_SECRET  # noqa: E402
from bench.common import cpu_seconds, machine, rss_mb, scratch_database  # noqa: E402
from bench.stats import percentile  # noqa: E402

TARGET_P99_S = 0.5
STREAM = "/v1/notifications/stream"
CONNECT_AT_ONCE = 100  # clients connecting at the same time (the rest wait their turn)
WARM_UP_STREAMS = 10
EVENT_TYPE = "LAB_RESULT_RECEIVED"


# --- the client process -------------------------------------------------------------------------------


async def _hold(
    client: httpx.AsyncClient, url: str, token: str, gate: asyncio.Semaphore, ready: asyncio.Event, state: dict
) -> None:
    """One stream until cancelled: counts its first ``unread-count`` and records each notification's arrival."""
    got, lock_held = state["received"], True
    await gate.acquire()
    try:
        async with client.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
            if response.status_code != 200:
                state["refused"] += 1
                return
            name, data = None, None
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and name:
                    if name == "notification" and data:
                        got.setdefault(json.loads(data)["notification_id"], []).append(time.time())
                    elif name == "unread-count" and lock_held:
                        lock_held = False
                        gate.release()
                        state["connected"] += 1
                        if state["connected"] == state["clients"]:
                            ready.set()
                    elif name == "reset":
                        state["resets"] += 1
                    name, data = None, None
    except httpx.HTTPError:
        state["errors"] += 1
    finally:
        if lock_held:
            gate.release()
        state["ended"] += 1


async def _client_main(base: str, tokens: list[str], out: Path) -> None:
    """Connects every token's stream, says ``ready`` on stdout, waits for ``stop`` on stdin, writes ``out``."""
    state: dict[str, Any] = {"clients": len(tokens), "connected": 0, "refused": 0, "errors": 0, "resets": 0, "ended": 0}
    state["received"] = {}
    ready = asyncio.Event()
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=httpx.Timeout(30, read=None)) as client:
        tasks = [asyncio.create_task(_hold(client, STREAM, t, gate, ready, state)) for t in tokens]
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED, timeout=300)
        if not ready.is_set():
            print(f"failed {json.dumps({k: v for k, v in state.items() if k != 'received'})}", flush=True)
        else:
            print(f"ready {time.monotonic() - started:.3f} {rss_mb(os.getpid()):.1f}", flush=True)
        cpu_at_ready = cpu_seconds(os.getpid())
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)  # "stop": the writer is done and the stragglers in
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    state["cpu_s_after_ready"] = cpu_seconds(os.getpid()) - cpu_at_ready
    out.write_text(json.dumps(state))


def client_process(args: argparse.Namespace) -> None:
    tokens = json.loads(Path(args.tokens).read_text())
    asyncio.run(_client_main(args.client_of, tokens, Path(args.out)))


# --- the benchmark ------------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    """Soft = hard limit of open files, inherited by the API and client processes (a stream is a socket)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def users_of(clients: int, orgs: int) -> list[tuple[str, str]]:
    """(user, organization) of each client: ``clients`` users spread over ``orgs`` organizations."""
    prefix = uuid.uuid4().hex[:6]
    return [(f"live-{prefix}-u{i:05d}", f"live-{prefix}-org{i % orgs}") for i in range(clients)]


def build_directory(engine, users: list[tuple[str, str]]) -> None:
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO directory_users (user_id, organization_id, roles, active, changed_at) "
                "VALUES (:u, :o, :r, true, :t)"
            ),
            [{"u": u, "o": o, "r": ["nurse"], "t": now} for u, o in users],
        )


def tokens_of(users: list[tuple[str, str]], ttl_s: int) -> list[str]:
    return [issue_token(DEV_JWT_SECRET, user_id=u, organization_id=o, roles=["nurse"], ttl_s=ttl_s) for u, o in users]


def start_api(url: str, port: int, logs: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "HERALD_ENV": "dev",
        "HERALD_DATABASE_URL": url,
        "HERALD_API_PORT": str(port),
        "HERALD_API_WORKERS": "1",
        "HERALD_LOG_LEVEL": "WARNING",
    }
    log = (logs / "api.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the API exited; see {logs / 'api.log'}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the API did not become ready")


def warm_up(base: str, tokens: list[str]) -> None:
    """A few streams opened until their first event, then closed: the first requests' one-off costs."""
    for token in tokens:
        with httpx.stream("GET", base + STREAM, headers={"Authorization": f"Bearer {token}"}, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("event:"):
                    break


def settle_rss(pid: int, seconds: float = 2.0) -> float:
    """VmRSS after the process has been left alone a moment (closed streams' tasks finished)."""
    time.sleep(seconds)
    return rss_mb(pid)


def cycle_metrics(base: str) -> tuple[float, float]:
    """(count, sum in seconds) of ``herald_api_live_cycle_seconds`` from the API's /metrics."""
    count = total = 0.0
    for line in httpx.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith("herald_api_live_cycle_seconds_count"):
            count = float(line.split()[-1])
        elif line.startswith("herald_api_live_cycle_seconds_sum"):
            total = float(line.split()[-1])
    return count, total


_INSERT = """
INSERT INTO user_notifications (notification_id, user_id, organization_id, event_id, event_type, priority,
                                reason, patient_id, resource_type, resource_id, occurred_at, push_status)
SELECT n, u, o, e, %(type)s, 'NORMAL', 'care_team', 'bench-patient', 'Observation', 'obs-bench', now(), 'none'
FROM unnest(%(ids)s::uuid[], %(users)s::text[], %(orgs)s::text[], %(events)s::uuid[]) AS r(n, u, o, e)"""


def write_notifications(
    url: str, users: list[tuple[str, str]], rate: float, batch: int, seconds: float, seed: int
) -> dict[str, tuple[str, float]]:
    """Commits ``rate`` rows/s in transactions of ``batch`` for ``seconds``, on a steady schedule; returns
    each notification id's (user, commit time)."""
    import psycopg

    from api.live.install import conninfo

    rng = random.Random(seed)
    order = users[:]
    rng.shuffle(order)
    committed: dict[str, tuple[str, float]] = {}
    period = batch / rate
    n = int(rate * seconds / batch)
    with psycopg.connect(conninfo(url)) as conn:
        start = time.monotonic()
        for tick in range(n):
            delay = start + tick * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            rows = [order[(tick * batch + k) % len(order)] for k in range(batch)]
            ids = [uuid.uuid4() for _ in rows]
            conn.execute(
                _INSERT,
                {
                    "type": EVENT_TYPE,
                    "ids": ids,
                    "users": [u for u, _ in rows],
                    "orgs": [o for _, o in rows],
                    "events": [uuid.uuid4() for _ in rows],
                },
            )
            conn.commit()
            at = time.time()
            for nid, (user, _) in zip(ids, rows, strict=True):
                committed[str(nid)] = (user, at)
        elapsed = time.monotonic() - start
    return committed | {"": ("", elapsed)}  # the writer's own run time, under the empty key


def summary(seconds: list[float]) -> dict:
    return {
        "n": len(seconds),
        "p50_s": percentile(seconds, 50),
        "p99_s": percentile(seconds, 99),
        "max_s": max(seconds, default=float("nan")),
    }


def run(args: argparse.Namespace) -> dict:
    fd_limit = raise_fd_limit()
    assert fd_limit > args.clients + 100, f"open-file limit {fd_limit} is too low for {args.clients} streams"
    url = scratch_database("herald_bench_live")
    engine = create_engine(url)
    users = users_of(args.clients, args.orgs)
    warm = users_of(WARM_UP_STREAMS, 1)
    build_directory(engine, users + warm)
    ttl = int(args.seconds) + 900
    logs = Path(tempfile.mkdtemp(prefix="herald-bench-live-"))
    (logs / "tokens.json").write_text(json.dumps(tokens_of(users, ttl)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = start_api(url, port, logs)
    client = None
    try:
        warm_up(base, tokens_of(warm, ttl))
        idle_mb = settle_rss(api.pid)
        cpu_before = cpu_seconds(api.pid)
        client = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client-of",
                base,
                "--tokens",
                str(logs / "tokens.json"),
                "--out",
                str(logs / "received.json"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None and client.stdin is not None
        line = client.stdout.readline().split()
        if not line or line[0] != "ready":
            raise SystemExit(f"the clients did not all connect: {' '.join(line)}")
        connect_s, client_mb = float(line[1]), float(line[2])
        connect_cpu = cpu_seconds(api.pid) - cpu_before
        connected_mb = settle_rss(api.pid)
        print(
            f"[live] {args.clients:,} clients connected in {connect_s:.1f} s; API RSS {idle_mb:.1f} MB idle, "
            f"{connected_mb:.1f} MB connected",
            flush=True,
        )
        cycles_before, cycle_s_before = cycle_metrics(base)
        cpu_before = cpu_seconds(api.pid)
        committed = write_notifications(url, users, args.rate, args.batch, args.seconds, args.seed)
        write_s = committed.pop("")[1]
        deadline = time.monotonic() + 30
        received_file = logs / "received.json"
        # The clients are told to stop once every row has had time to arrive (5 s after the last commit:
        # ten times the target); a row still missing then counts as lost.
        time.sleep(5.0)
        cycles_after, cycle_s_after = cycle_metrics(base)
        write_cpu = cpu_seconds(api.pid) - cpu_before
        client.stdin.write("stop\n")
        client.stdin.flush()
        client.wait(max(deadline - time.monotonic(), 1))
        state = json.loads(received_file.read_text())
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        api.terminate()
        api.wait(10)
        engine.dispose()
    received: dict[str, list[float]] = state["received"]
    latency = [received[nid][0] - at for nid, (_, at) in committed.items() if nid in received]
    cycles = cycles_after - cycles_before
    first = min((at for _, at in committed.values()), default=0.0)
    by_second: dict[int, float] = {}
    for nid, (_, at) in committed.items():
        if nid in received:
            second = int(at - first)
            by_second[second] = max(by_second.get(second, 0.0), received[nid][0] - at)
    return {
        "clients": args.clients,
        "orgs": args.orgs,
        "rate_per_s": args.rate,
        "batch": args.batch,
        "seconds": args.seconds,
        "connect_s": connect_s,
        "api_connect_cpu_s": connect_cpu,
        "api_rss_idle_mb": idle_mb,
        "api_rss_connected_mb": connected_mb,
        "kb_per_client": (connected_mb - idle_mb) * 1024 / args.clients,
        "client_process_rss_mb": client_mb,
        "notifications_committed": len(committed),
        "writer_s": write_s,
        "commit_to_client": summary(latency),
        "lost": sum(1 for nid in committed if nid not in received),
        "duplicates": sum(len(times) - 1 for times in received.values()),
        "unexpected": sum(1 for nid in received if nid not in committed),
        "resets": state["resets"],
        "stream_errors": state["errors"] + state["refused"],
        "hub_cycles": cycles,
        "hub_cycle_mean_ms": (cycle_s_after - cycle_s_before) / cycles * 1000 if cycles else float("nan"),
        "api_cpu_share_while_writing": write_cpu / (write_s + 5.0),
        "client_cpu_share_while_writing": state["cpu_s_after_ready"] / (write_s + 5.0),
        "max_latency_by_second_s": [round(by_second.get(k, float("nan")), 3) for k in range(int(args.seconds) + 1)],
        "logs": str(logs),
    }


def report(r: dict) -> list[str]:
    lat = r["commit_to_client"]
    met = lat["p99_s"] < TARGET_P99_S and r["lost"] == 0 and r["duplicates"] == 0
    return [
        f"live streams: {r['clients']:,} SSE clients on {STREAM} ({r['orgs']} organizations), one API process",
        f"  connect: all {r['clients']:,} got their unread-count in {r['connect_s']:.1f} s "
        f"(API CPU {r['api_connect_cpu_s']:.1f} s); client process RSS {r['client_process_rss_mb']:.0f} MB",
        f"  memory: API RSS {r['api_rss_idle_mb']:.1f} MB idle -> {r['api_rss_connected_mb']:.1f} MB connected: "
        f"{r['kb_per_client']:.1f} KB per client",
        f"  latency: {r['notifications_committed']:,} notifications at {r['rate_per_s']:.0f}/s "
        f"({r['batch']} a transaction) for {r['seconds']:.0f} s (writer took {r['writer_s']:.1f} s)",
        f"     commit -> client   p50 {lat['p50_s'] * 1000:.0f} ms  p99 {lat['p99_s'] * 1000:.0f} ms  "
        f"max {lat['max_s'] * 1000:.0f} ms   (n {lat['n']:,})",
        f"     lost {r['lost']}  duplicates {r['duplicates']}  unexpected {r['unexpected']}  resets {r['resets']}  "
        f"stream errors {r['stream_errors']}",
        f"     hub: {r['hub_cycles']:.0f} cycles, mean {r['hub_cycle_mean_ms']:.1f} ms; API process CPU "
        f"{r['api_cpu_share_while_writing'] * 100:.0f} % of one core while writing, client process "
        f"{r['client_cpu_share_while_writing'] * 100:.0f} %",
        "     slowest delivery of each second of the run (ms): "
        + " ".join(f"{v * 1000:.0f}" for v in r["max_latency_by_second_s"]),
        f"     target p99 < {TARGET_P99_S * 1000:.0f} ms, nothing lost or repeated: {'met' if met else 'MISSED'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000, help="concurrent SSE clients, one user each")
    parser.add_argument("--orgs", type=int, default=4, help="organizations the users are spread over")
    parser.add_argument("--rate", type=float, default=200.0, help="notifications committed per second")
    parser.add_argument("--batch", type=int, default=10, help="notifications per transaction")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the writer runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--client-of", help=argparse.SUPPRESS)  # the client process: the API's base URL
    parser.add_argument("--tokens", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_of:
        client_process(args)
        return
    load_at_start = os.getloadavg()
    result = run(args)
    load_at_end = os.getloadavg()
    print("\n".join(report(result)), flush=True)
    loads = ", ".join(f"{v:.1f}" for v in load_at_start), ", ".join(f"{v:.1f}" for v in load_at_end)
    print(f"load average {loads[0]} at the start, {loads[1]} at the end; logs: {result['logs']}")
    if args.json:
        figures = {"load_average": [load_at_start, load_at_end], **result}
        args.json.write_text(json.dumps({"machine": machine(), "at": time.time(), **figures}, indent=2))
        print(f"saved {args.json}")


if __name__ == "__main__":
    main()
