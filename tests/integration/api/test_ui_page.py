"""The bell page at /ui/ in a real headless Chromium (tests/browser.py: the DevTools Protocol).

Against the real API (uvicorn on a free port, the session's database): the page loads the feed and the
bell over REST with a pasted token, rows committed afterwards (as the fan-out and the persister write
them) appear live, and after a dropped connection (a relay that cuts it) the page resumes with
Last-Event-ID and the server replays the row committed meanwhile. Against a scripted server that speaks the streams' contract: reconnection with
Last-Event-ID, every event kind, the acknowledge button, and no call outside the contract. The
event-stream parser is checked on awkward chunkings in the browser itself. Screenshots go to
``test-artifacts/`` (ignored by git).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from api.main import create_app
from api.ui import mount
from cli.processes import wait_until
from tests.browser import Page, chromium
from tests.integration.api.conftest import World, at, token
from tests.ports import free_port

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
LIVE_WITHIN_S = 2.0


@contextmanager
def serve(app) -> Iterator[str]:
    """``app`` under uvicorn in a thread on a free port; the base URL while it runs."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()

    def poll() -> None:
        while not server.started and thread.is_alive():
            started.wait(0.02)  # uvicorn offers no event for "listening"

    poll()
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Page]:
    with chromium() as page:
        yield page


@pytest.fixture
def page(browser: Page) -> Page:
    browser.console.clear()
    return browser


def screenshot(page: Page, name: str, capsys) -> None:
    path = page.screenshot(ARTIFACTS / f"{name}.png")
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


def connect(page: Page, base: str, bearer: str) -> None:
    page.navigate(f"{base}/ui/")
    page.type_into("#token", bearer)
    page.click("#connect")


def shown(kind: str, row_id: object) -> str:
    return f"!!document.querySelector('#{kind} li[data-id=\"{row_id}\"]')"


def assert_no_phi_in_console(page: Page, *secrets: str) -> None:
    for kind, text in page.console:
        for secret in secrets:
            assert secret not in text, f"console.{kind} names {secret!r}: {text}"


# --- the real API -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_api(api_settings) -> Iterator[tuple[str, object]]:
    app = create_app(api_settings)  # its own instance: its shutdown disposes only its own pool
    with serve(app) as base:
        yield base, app


def streams_served(base: str, bearer: str) -> bool:
    """Whether the API answers the event streams (an unknown /v1 path is a 404 for a valid token)."""
    for path in ("/v1/notifications/stream", "/v1/feed/stream"):
        with httpx.stream("GET", base + path, headers={"Authorization": f"Bearer {bearer}"}, timeout=5) as response:
            if response.status_code != 200:
                return False
    return True


def test_the_page_shows_the_feed_and_the_bell_loaded_over_rest(page, live_api, world: World, capsys):
    base, _ = live_api
    world.user("dr", "physician")
    world.on_team("p-1", "dr")
    event = world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1", title="Potassium 6.1")
    nid = world.notification("dr", event, patient="p-1", created=at(0))
    older = world.notification("dr", world.event(title="Clinic closes early", at=at(-5)), created=at(-5), read=True)
    served = httpx.get(f"{base}/ui/", timeout=5)
    assert "script-src 'sha256-" in served.headers["content-security-policy"]  # the page's script runs under it
    assert httpx.options(f"{base}/ui/").headers["allow"] == "GET, HEAD, OPTIONS"
    assert httpx.post(f"{base}/ui/").status_code == 405

    connect(page, base, token(world.uid("dr"), world.org, "physician"))

    page.wait_for(
        shown("bell", nid) + " && " + shown("bell", older) + " && " + shown("feed", event), 5, what="REST rows"
    )
    assert page.evaluate("document.querySelector('#bell-count').textContent") == "1"
    assert page.evaluate(f"document.querySelector('#bell li[data-id=\"{nid}\"]').className") == "unread"
    assert "Potassium 6.1" in page.evaluate("document.querySelector('#feed').textContent")
    screenshot(page, "ui-page-rest", capsys)
    assert_no_phi_in_console(page, "Potassium 6.1", world.uid("p-1"), str(nid))


def test_rows_committed_after_loading_appear_live(page, live_api, world: World, capsys):
    base, _ = live_api
    world.user("dr", "physician")
    world.on_team("p-1", "dr")
    bearer = token(world.uid("dr"), world.org, "physician")
    if not streams_served(base, bearer):
        pytest.skip("the API serves no /v1/notifications/stream and /v1/feed/stream yet")
    connect(page, base, bearer)
    page.wait_for("document.querySelector('#status').dataset.state === 'live'", 5, what="the streams to open")

    committed = time.monotonic()
    event = world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1", title="Sodium 128")
    nid = world.notification("dr", event, patient="p-1", created=datetime.now(timezone.utc))

    page.wait_for(shown("bell", nid), LIVE_WITHIN_S, what="the bell row, live")
    page.wait_for(shown("feed", event), LIVE_WITHIN_S, what="the activity event, live")
    with capsys.disabled():
        print(f"\nbell row and feed item shown {1000 * (time.monotonic() - committed):.0f} ms after the first commit")
    page.wait_for("document.querySelector('#bell-count').textContent === '1'", LIVE_WITHIN_S, what="the unread count")
    screenshot(page, "ui-page-live", capsys)
    assert_no_phi_in_console(page, "Sodium 128", world.uid("p-1"), str(nid))


class CuttingProxy:
    """A TCP relay in front of the API that can cut every open connection at once (a dropped network),
    and records the head of each request it relays (requests here are small: one read each)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.heads: list[str] = []
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, request: bool) -> None:
        try:
            while data := source.recv(65536):
                if request and data.split(b" ", 1)[0] in (b"GET", b"POST", b"HEAD", b"OPTIONS"):
                    self.heads.append(data.split(b"\r\n\r\n", 1)[0].decode("latin-1"))  # keep-alive: any request
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            sockets, self.open = self.open, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def stream_heads(self, path: str) -> list[str]:
        return [h for h in self.heads if h.startswith(f"GET {path} ")]

    def close(self) -> None:
        self.listener.close()
        self.cut()


def test_a_dropped_connection_resumes_after_the_last_event_id(page, live_api, world: World, capsys):
    base, _ = live_api
    world.user("dr", "physician")
    world.on_team("p-1", "dr")
    bearer = token(world.uid("dr"), world.org, "physician")
    if not streams_served(base, bearer):
        pytest.skip("the API serves no /v1/notifications/stream and /v1/feed/stream yet")
    proxy = CuttingProxy(int(base.rsplit(":", 1)[1]))
    try:
        connect(page, f"http://127.0.0.1:{proxy.port}", bearer)
        page.wait_for("document.querySelector('#status').dataset.state === 'live'", 5, what="the streams to open")
        first = world.notification("dr", world.event(patient="p-1"), patient="p-1", created=datetime.now(timezone.utc))
        page.wait_for(shown("bell", first), LIVE_WITHIN_S, what="a first live row, whose id the page keeps")

        # When the network drops and a row is committed before the page is back
        proxy.cut()
        missed = world.notification("dr", world.event(patient="p-1"), patient="p-1", created=datetime.now(timezone.utc))

        # Then the page reconnects with the last id it saw, and the server replays what it missed
        cut = time.monotonic()
        page.wait_for(shown("bell", missed), 10, what="the row committed while disconnected")
        with capsys.disabled():
            print(
                f"\nthe row committed while disconnected shown {1000 * (time.monotonic() - cut):.0f} ms after the cut"
            )
        bell = proxy.stream_heads("/v1/notifications/stream")
        assert len(bell) >= 2
        assert "last-event-id:" not in bell[0].lower()
        assert "last-event-id:" in bell[1].lower()
        assert len(proxy.stream_heads("/v1/notifications?limit=50")) == 1  # replayed, not a reset and a reload
        screenshot(page, "ui-page-reconnected", capsys)
    finally:
        proxy.close()


# --- a scripted server speaking the streams' contract -----------------------------------------------

NID, AWAITING, EVENT = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def bell_item(notification_id: str, *, title: str, awaiting: bool = False) -> dict:
    return {
        "notification_id": notification_id,
        "event_id": str(uuid.uuid4()),
        "event_type": "LAB_RESULT_CRITICAL" if awaiting else "LAB_RESULT_RECEIVED",
        "priority": "URGENT" if awaiting else "NORMAL",
        "reason": "care_team",
        "title": title,
        "event_title": None,
        "patient_id": "pat-secret-1",
        "resource_type": None,
        "resource_id": None,
        "occurred_at": "2026-12-04T18:00:00+00:00",
        "created_at": "2026-12-04T18:00:00+00:00" if awaiting else "2026-12-04T18:05:00+00:00",
        "read_at": None,
        "acknowledgement": {"status": "awaiting", "step": 0} if awaiting else None,
    }


def feed_item(event_id: str, title: str) -> dict:
    return {
        "event_id": event_id,
        "event_type": "APPOINTMENT_SCHEDULED",
        "priority": "NORMAL",
        "occurred_at": "2026-12-04T18:06:00+00:00",
        "actor_user_id": None,
        "patient_id": "pat-secret-1",
        "encounter_id": None,
        "resource_type": None,
        "resource_id": None,
        "title": title,
        "description": None,
        "visibility": "all_members",
        "attributes": {},
    }


class Scripted:
    """The REST routes the page reads and the two streams, with every request recorded."""

    BEARER = "Bearer scripted-token"

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None, str | None]] = []  # method, path, auth, Last-Event-ID
        self.bell_connections = 0
        self.feed_connections = 0
        self.stop = asyncio.Event()

    def calls(self, path: str) -> int:
        return sum(p == path for _, p, _, _ in self.requests)

    def record(self, request: Request) -> None:
        self.requests.append(
            (
                request.method,
                request.url.path,
                request.headers.get("authorization"),
                request.headers.get("last-event-id"),
            )
        )

    async def notifications(self, request: Request) -> JSONResponse:
        self.record(request)
        items = [bell_item(AWAITING, title="Critical lab result", awaiting=True)]
        return JSONResponse({"items": items, "next_cursor": None, "unread": {"count": 1, "capped": False, "cap": 999}})

    async def feed(self, request: Request) -> JSONResponse:
        """Empty at first; after the stream's reset, with the streamed item (as the real feed would be)."""
        self.record(request)
        reloaded = self.calls("/v1/feed") > 1
        return JSONResponse({"items": [feed_item(EVENT, "Follow-up booked")] if reloaded else [], "next_cursor": None})

    async def acknowledge(self, request: Request) -> JSONResponse:
        self.record(request)
        nid = request.path_params["nid"]
        return JSONResponse(
            {
                "notification_id": nid,
                "event_id": str(uuid.uuid4()),
                "step": 0,
                "status": "acknowledged",
                "acknowledged_at": "2026-12-04T18:07:00+00:00",
                "declined_at": None,
                "alert_state": "acknowledged",
            }
        )

    async def _hold(self):
        while not self.stop.is_set():
            yield ": keep-alive\n\n"
            try:
                await asyncio.wait_for(self.stop.wait(), 0.5)
            except TimeoutError:
                pass

    async def bell_stream(self, request: Request) -> StreamingResponse:
        self.record(request)
        self.bell_connections += 1
        first = self.bell_connections == 1

        async def events():
            if first:  # one event, with CRLF line ends cut mid-line, then the connection drops
                data = json.dumps(bell_item(NID, title="New lab result"))
                yield "retry: 200\r\nid: b-1\r\nevent: notif"
                yield f"ication\r\ndata: {data[:40]}"
                yield f"{data[40:]}\r\n\r"
                yield "\n"
                return
            yield f"id: b-2\nevent: unread-count\ndata: {json.dumps({'unread': 5})}\n\n"
            update = {"notification_id": NID, "read_at": "2026-12-04T18:08:00+00:00", "acknowledgement": None}
            yield f"id: b-3\nevent: notification-updated\ndata: {json.dumps(update)}\n\n"
            async for comment in self._hold():
                yield comment

        return StreamingResponse(events(), media_type="text/event-stream")

    async def feed_stream(self, request: Request) -> StreamingResponse:
        self.record(request)
        self.feed_connections += 1

        async def events():
            # data split over two data: lines (joined with a newline: still one JSON document)
            body = json.dumps(feed_item(EVENT, "Follow-up booked"), indent=None).split(', "priority"', 1)
            yield f': hello\nid: f-1\nevent: feed-item\ndata: {body[0]},\ndata:  "priority"{body[1]}\n\n'
            yield "id: f-2\nevent: reset\ndata: {}\n\n"
            async for comment in self._hold():
                yield comment

        return StreamingResponse(events(), media_type="text/event-stream")

    def app(self) -> Starlette:
        app = Starlette(
            routes=[
                Route("/v1/notifications", self.notifications),
                Route("/v1/feed", self.feed),
                Route("/v1/notifications/stream", self.bell_stream),
                Route("/v1/feed/stream", self.feed_stream),
                Route("/v1/notifications/{nid}/acknowledge", self.acknowledge, methods=["POST"]),
            ]
        )
        mount(app)  # the same static page the API serves
        return app


def test_the_page_follows_the_stream_contract_and_reconnects_with_the_last_event_id(page, capsys):
    scripted = Scripted()
    with serve(scripted.app()) as base:
        connect(page, base, "scripted-token")

        page.wait_for(shown("bell", NID), 5, what="the streamed notification")
        page.wait_for("document.querySelector('#bell-count').textContent === '5'", 5, what="the streamed unread count")
        page.wait_for(f"document.querySelector('#bell li[data-id=\"{NID}\"]').className === ''", 5, what="read update")
        page.wait_for(shown("feed", EVENT), 5, what="the streamed feed item")
        assert "Follow-up booked" in page.evaluate("document.querySelector('#feed').textContent")

        awaiting = f'#bell li[data-id="{AWAITING}"]'
        assert page.evaluate(f"document.querySelector('{awaiting}').dataset.acknowledgement") == "awaiting"
        page.click(f"{awaiting} button.acknowledge")
        page.wait_for(f"document.querySelector('{awaiting}').dataset.acknowledgement === 'acknowledged'", 5)
        assert page.evaluate(f"document.querySelector('{awaiting} button')") is None
        wait_until(lambda: scripted.calls("/v1/feed") == 2, 5, interval=0.02, what="the reset to reload the feed")
        screenshot(page, "ui-page-scripted", capsys)
        scripted.stop.set()

    bell_streams = [r for r in scripted.requests if r[1] == "/v1/notifications/stream"]
    assert [r[3] for r in bell_streams[:2]] == [None, "b-1"]  # the reconnection resumes after the last event
    assert all(auth == Scripted.BEARER for _, _, auth, _ in scripted.requests)
    calls = {(method, path) for method, path, _, _ in scripted.requests}
    assert calls == {
        ("GET", "/v1/notifications"),
        ("GET", "/v1/feed"),
        ("GET", "/v1/notifications/stream"),
        ("GET", "/v1/feed/stream"),
        ("POST", f"/v1/notifications/{AWAITING}/acknowledge"),
    }
    assert_no_phi_in_console(page, "pat-secret-1", "Follow-up booked", "scripted-token", NID)


# --- the event-stream parser, in the browser ---------------------------------------------------------

PARSE = """(chunks => {
  const events = [], retries = [];
  const parser = window.herald.SseParser(e => events.push(e), ms => retries.push(ms));
  chunks.forEach(c => parser.push(c));
  return {events, retries, lastId: parser.lastId};
})(%s)"""


@pytest.mark.parametrize(
    "chunks",
    [
        ['id: 7\nevent: unread-count\ndata: {"unread": 3}\n\n'],
        ['id: 7\r\nevent: unread-count\r\ndata: {"unread": 3}\r', "\n\r\n"],
        ['id: 7\revent: unread-count\rdata: {"unread": 3}\r\r'],
        ["i", "d:7\nev", "ent:unread-count\ndata:", ' {"unread": 3}\n', "\n"],
        [': keep-alive\n\nid: 7\nevent: unread-count\n: note\ndata: {"unread": 3}\n\n'],
    ],
    ids=["lf", "crlf-cut", "cr", "tiny-chunks", "comments"],
)
def test_the_parser_reads_one_event_however_the_stream_is_cut(page, chunks):
    result = _parse(page, chunks)
    assert result["events"] == [{"type": "unread-count", "data": '{"unread": 3}', "id": "7"}]


def test_the_parser_joins_data_lines_keeps_ids_and_drops_an_unfinished_event(page):
    result = _parse(page, ["retry: 1500\ndata: a\ndata: b\n\nid: 9\n\ndata: half"])
    assert result["events"] == [{"type": "message", "data": "a\nb", "id": None}]
    assert result["retries"] == [1500]
    assert result["lastId"] == "9"  # an id on an event without data still counts for Last-Event-ID


def _parse(page: Page, chunks: list[str]) -> dict:
    """Runs the page's parser on ``chunks``; the page is loaded from a server of its own first."""
    app = Starlette()
    mount(app)
    with serve(app) as base:
        page.navigate(f"{base}/ui/")
    return page.evaluate(PARSE % json.dumps(chunks))
