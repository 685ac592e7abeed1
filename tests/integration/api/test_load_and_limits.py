"""The API as a real process (``python -m api``, uvicorn + httptools) under load and against oversized
requests: many requests in flight get answers and no 5xx; a body, header block or header count over the
limits is refused before it is read, and the process's memory does not grow with what it refused."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.api.conftest import SECRET, World

pytestmark = pytest.mark.integration
IN_FLIGHT = 500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def api_process(database_url, tmp_path_factory):
    """A real API process on its own port; yields (base URL, pid)."""
    port = _free_port()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_API_PORT": str(port),
        "HERALD_ENV": "dev",
        "HERALD_API_JWT_SECRET": SECRET,
        "HERALD_API_DIRECTORY_CACHE_S": "5",
    }
    log = open(tmp_path_factory.mktemp("api") / "api.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError("the API process did not become ready")
        time.sleep(0.1)
    try:
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.fixture(scope="module")
def busy_world(db):
    world = World(db)
    world.user("dr", "physician")
    for i in range(250):
        world.event("LAB_RESULT_RECEIVED", visibility="all_members", title=f"row {i}")
    return world


async def _many(base: str, headers: dict, n: int) -> list[int]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one() -> int:
            response = await client.get("/v1/feed", params={"limit": 200}, headers=headers)
            if response.status_code == 200:
                assert len(response.json()["items"]) == 200
            return response.status_code

        return await asyncio.gather(*(one() for _ in range(n)))


def test_500_requests_in_flight_are_all_answered_without_a_5xx(api_process, busy_world):
    base, _ = api_process
    started = time.monotonic()
    statuses = asyncio.run(asyncio.wait_for(_many(base, busy_world.headers("dr", "physician"), IN_FLIGHT), 90))
    elapsed = time.monotonic() - started
    assert len(statuses) == IN_FLIGHT
    assert statuses.count(200) == IN_FLIGHT, {s: statuses.count(s) for s in set(statuses)}
    assert elapsed < 90
    # and it is not left wedged: a request right after the burst is answered at once
    assert httpx.get(f"{base}/readyz", timeout=2).status_code == 200


def _raw(base: str, payload: bytes, *, read_timeout: float = 10) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed before everything was sent: the answer is still there to read
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        except ConnectionResetError:
            pass
        return answer


def test_an_oversized_body_is_413_before_it_is_read(api_process, busy_world):
    base, pid = api_process
    before = _rss_kb(pid)
    token = busy_world.headers("dr", "physician")["Authorization"]
    host = base.removeprefix("http://")
    # declared 100 MB, only 1 KB sent: the answer comes without waiting for (or reading) the rest
    head = (
        f"PUT /v1/preferences HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {100 * 2**20}\r\n\r\n"
    ).encode()
    answer = _raw(base, head + b"{" * 1024, read_timeout=5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # chunked, no length declared: refused once the limit is passed, the rest never read
    head = (
        f"PUT /v1/preferences HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    answer = _raw(base, head + chunk * 4, read_timeout=5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert _rss_kb(pid) - before < 20 * 1024


def test_an_unauthenticated_body_of_any_size_is_401_unread(api_process):
    base, pid = api_process
    before = _rss_kb(pid)
    host = base.removeprefix("http://")
    head = (
        f"POST /v1/devices HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    answer = _raw(base, head + b"x" * 10, read_timeout=5)  # the body is not even complete: no one waits for it
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert _rss_kb(pid) - before < 20 * 1024


@pytest.mark.parametrize(
    "extra",
    [
        b"X-Big: " + b"a" * (10 * 2**20) + b"\r\n",  # one 10 MB header
        b"".join(b"X-%d: 1\r\n" % i for i in range(100_000)),  # 100,000 headers
    ],
    ids=["10MB-header", "100k-headers"],
)
def test_oversized_header_blocks_are_431(api_process, extra):
    base, pid = api_process
    before = _rss_kb(pid)
    answer = _raw(base, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert _rss_kb(pid) - before < 20 * 1024
    assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200
