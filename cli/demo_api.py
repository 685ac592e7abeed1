"""The read API in ``herald demo``: started next to the processors, then shown with a token to try."""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable

import httpx
from rich.console import Console

from api.auth import issue_token
from api.settings import ApiSettings
from cli.supervisor import ChildSpec, Supervisor, herald_child

DEMO_USER, DEMO_ORG, DEMO_ROLES = "org-001-u0001", "org-001", ("medical_director",)  # processors.demo.traffic


def api_child(log_path: str) -> ChildSpec:
    """``herald run api`` in dev mode (the dev secret is accepted only there), for the supervisor."""
    return herald_child("api", {"HERALD_ENV": "dev"}, log_path)


def try_the_api(console: Console, supervisor: Supervisor) -> None:
    """Prints a token and a curl line, calls it once, and keeps the API up until Ctrl-C when interactive."""
    settings = ApiSettings(env="dev")
    base = f"http://{settings.api_host}:{settings.api_port}"
    if not _ready(base, lambda: supervisor.running("api")):
        console.print(f"  [red]the API did not come up on {base}; see its log[/red]")
        return
    token = issue_token(
        settings.hmac_secret(), user_id=DEMO_USER, organization_id=DEMO_ORG, roles=DEMO_ROLES, ttl_s=12 * 3600
    )
    console.rule("6. the read API")
    console.print(
        f"  {base}/docs (OpenAPI: {base}/openapi.json); a token for {DEMO_USER} "
        f"({', '.join(DEMO_ROLES)} of {DEMO_ORG}), valid 12 h:\n"
    )
    console.print(f"export HERALD_TOKEN={token}", soft_wrap=True)
    console.print(f'curl -s -H "Authorization: Bearer $HERALD_TOKEN" "{base}/v1/feed?limit=3"\n', soft_wrap=True)
    console.print(f"  the bell and the feed, live, in a browser: {base}/ui/ (paste the token)\n")
    feed = httpx.get(f"{base}/v1/feed?limit=3", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    for item in feed.get("items", []):
        console.print(f"  {item['occurred_at']}  {item['event_type']:<24} {item['title']}")
    unread = httpx.get(f"{base}/v1/notifications/unread-count", headers={"Authorization": f"Bearer {token}"}).json()
    console.print(f"  unread notifications of {DEMO_USER}: {unread.get('count')}")
    if sys.stdin.isatty():
        console.print("\n  the API stays up for you to try; press Ctrl-C to stop everything")
        try:
            threading.Event().wait()  # until Ctrl-C (or SIGTERM, which the demo turns into one)
        except KeyboardInterrupt:
            pass


def _ready(base: str, running: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running():
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)  # polling a starting process; there is no event to wait on
    return False
