"""One listening connection and one polling task per API process, for every live stream it serves.

The task LISTENs on ``herald_live`` (the triggers of migration 0007 notify once per statement) and
wakes on a notification, on a new stream, or every ``HERALD_API_STREAM_POLL_S`` as a fallback. Each
wake is one cycle: read the window [lo, hi) of changes for the users and organizations of the
connected streams, load the rows those changes name, count the unread of the users they touched, and
hand each stream its events; streams that connected since the last cycle get their replay (changes
after their Last-Event-ID, below hi) in the same cycle, then join. Each query runs once per cycle for
all streams, never once per client. Positions handed to a stream only grow (``positions.is_new``),
so a replay and the windows that follow it never repeat a change.

A stream's queue is bounded (``HERALD_API_STREAM_QUEUE_MAX``): a client that does not keep up is sent
a ``reset`` and closed instead of holding unbounded memory. Once a minute the task prunes changes
older than the replay window (``changes.prune``). If the connection fails, the task reconnects and
continues from its watermark: the change log is in the database, so nothing is lost meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from psycopg import AsyncConnection

from api.live import changes, events
from api.live.changes import CREATED, FEED, UPDATED, Change
from api.live.positions import Position, Verdict, is_new, judge
from api.queries import UNREAD_CAP
from processors.visibility import Viewer, ViewerFacts

log = logging.getLogger("herald.api.live")
CHANNEL = "herald_live"
STREAMS = Gauge("herald_api_live_streams", "Live streams open in this process", ["stream"])
EVENTS = Counter("herald_api_live_events_total", "Events handed to live streams", ["event"])
RESETS = Counter("herald_api_live_resets_total", "Live streams sent a reset", ["reason"])
CYCLES = Histogram(
    "herald_api_live_cycle_seconds",
    "One read of the change log for every live stream of the process, and the hand-out",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
FAILURES = Counter("herald_api_live_failures_total", "Change-log reads that failed (the hub reconnects)")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event for a stream: its SSE ``event`` name, data, and ``id`` (None for none)."""

    event: str
    data: dict
    position: Position | None


@dataclass(eq=False)
class Stream:
    """One connected client: who it is, what it has been handed, and its queue."""

    feed: bool
    viewer: Viewer
    facts: ViewerFacts
    last_event_id: str | None
    queue: asyncio.Queue[Outgoing]
    offered: Position | None = None  # the newest change handed to it; None until it joins
    unread: int | None = None
    reset: str | None = None  # set when the stream must tell its client to reload, then close
    closed: bool = False  # its client went away

    @property
    def key(self) -> str:
        return self.viewer.organization_id if self.feed else self.viewer.user_id


@dataclass
class LiveHub:
    """Built by ``create_app``; ``run`` is the process's one task, started and stopped by the lifespan."""

    connect: Callable[[], Awaitable[AsyncConnection]]
    poll_s: float = 1.0
    replay_s: float = 3600.0
    queue_max: int = 1000
    prune_every_s: float = 60.0
    # the bell's window per organization (api.windows): older entries are neither handed nor counted, as in REST
    bell_since: Callable[[str], datetime | None] = lambda organization_id: None
    lo: int | None = None  # every change below it has been handed to the streams that had joined
    cycles: int = 0
    _pending: list[Stream] = field(default_factory=list)
    _bell: dict[str, set[Stream]] = field(default_factory=lambda: defaultdict(set))
    _feed: dict[str, set[Stream]] = field(default_factory=lambda: defaultdict(set))
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _pruned_at: float = 0.0

    def subscribe(self, stream: Stream) -> None:
        STREAMS.labels("feed" if stream.feed else "notifications").inc()
        self._pending.append(stream)
        self._wake.set()

    def unsubscribe(self, stream: Stream) -> None:
        if stream.closed:
            return
        STREAMS.labels("feed" if stream.feed else "notifications").dec()
        stream.closed = True
        if stream in self._pending:
            self._pending.remove(stream)
        joined = (self._feed if stream.feed else self._bell).get(stream.key)
        if joined is not None:
            joined.discard(stream)
            if not joined:
                del (self._feed if stream.feed else self._bell)[stream.key]

    @property
    def streams(self) -> int:
        return len(self._pending) + sum(map(len, self._bell.values())) + sum(map(len, self._feed.values()))

    async def run(self) -> None:
        """Until cancelled; reconnects after a failure (1 s, then up to 10 s apart)."""
        backoff = 1.0
        while True:
            try:
                conn = await self.connect()
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    backoff = 1.0
                    while True:
                        with CYCLES.time():
                            await self._cycle(conn)
                        await self._wait(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: streams wait, nothing is lost
                FAILURES.inc()
                log.warning("live updates: %s; reconnecting in %.0f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _wait(self, conn: AsyncConnection) -> None:
        """Until a notification, a new stream or the fallback period; notifications that arrived during
        the cycle are already buffered and end the wait at once."""
        if self._wake.is_set():
            self._wake.clear()
            return
        notified = asyncio.ensure_future(self._first_notification(conn, self.poll_s))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({notified, woken}, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (notified, woken):
                task.cancel()
            await asyncio.gather(notified, woken, return_exceptions=True)
            self._wake.clear()

    @staticmethod
    async def _first_notification(conn: AsyncConnection, timeout: float) -> None:
        # Run to its end (never ``return`` from the loop): the generator holds the connection's lock
        # until it finishes, and an abandoned one would keep the next query waiting for the collector.
        async for _ in conn.notifies(timeout=timeout, stop_after=1):
            pass

    async def _cycle(self, conn: AsyncConnection) -> None:
        """One window for every joined stream, then the replays of the streams waiting to join."""
        self.cycles += 1
        if self.lo is None:  # first cycle: live from now on
            self.lo = (await changes.read_window(conn, lo=0, users=[], orgs=[])).hi
        window = await changes.read_window(conn, lo=self.lo, users=list(self._bell), orgs=list(self._feed))
        if window.horizon > self.lo:  # this process was cut off longer than the replay window
            for stream in self._joined():
                self._reset(stream, "expired")
        joining, self._pending = self._pending, []
        try:
            replays = await self._replays(conn, joining, window.hi)
            bell_ids = {c.item_id for c in window.changes if c.kind != FEED}
            feed_ids = {c.item_id for c in window.changes if c.kind == FEED}
            for replay in replays.values():
                bell_ids.update(c.item_id for c in replay if c.kind != FEED)
                feed_ids.update(c.item_id for c in replay if c.kind == FEED)
            counted = {(c.user_id, c.organization_id) for c in window.changes if c.user_id is not None}
            counted.update((s.viewer.user_id, s.viewer.organization_id) for s in replays if not s.feed)
            bell_rows = await changes.load_notifications(conn, list(bell_ids))
            feed_rows = await changes.load_events(conn, list(feed_ids))
            unread = await changes.count_unread(
                conn, [(u, o) for u, o in counted if u is not None], UNREAD_CAP + 1, self.bell_since
            )
            for change in window.changes:
                targets = (
                    self._feed.get(change.organization_id, ())
                    if change.kind == FEED
                    else self._bell.get(change.user_id or "", ())
                )
                for stream in list(targets):
                    self._hand(stream, change, bell_rows, feed_rows)
            for stream in self._joined(bell_only=True):
                self._count(stream, unread)
            for stream, replay in replays.items():
                for change in replay:
                    self._hand(stream, change, bell_rows, feed_rows)
                if not stream.feed:
                    self._count(stream, unread)
                if stream.reset is None and not stream.closed:
                    (self._feed if stream.feed else self._bell)[stream.key].add(stream)
        except BaseException:  # they join in the next cycle, which reads the same window again
            self._pending[:0] = [s for s in joining if not s.closed and s.reset is None]
            raise
        self.lo = window.hi
        if time.monotonic() - self._pruned_at >= self.prune_every_s:
            self._pruned_at = time.monotonic()
            deleted = await changes.prune(conn, replay_s=self.replay_s)
            if deleted:
                log.info("live updates: pruned %d changes older than %.0f s", deleted, self.replay_s)

    async def _replays(self, conn: AsyncConnection, joining: list[Stream], hi: int) -> dict[Stream, list[Change]]:
        """Each joining stream's changes after its Last-Event-ID and below ``hi`` (one statement per
        kind of stream); a stream without one starts at hi, and so does one that cannot resume, after a
        ``reset``."""
        found: dict[Stream, list[Change]] = {}
        for feed in (False, True):
            group = [s for s in joining if s.feed == feed]
            fresh = [s for s in group if s.last_event_id is None]
            resuming = [s for s in group if s.last_event_id is not None]
            for stream in fresh:
                stream.offered = Position(hi)
                found[stream] = []
            if not resuming:
                continue
            since = [(s.key, Position.decode(s.last_event_id) or Position(0)) for s in resuming]
            horizon, rows = await changes.read_replays(conn, feed=feed, since=since, hi=hi, limit=self.queue_max + 1)
            for stream, replay in zip(resuming, rows, strict=True):
                verdict, position = judge(stream.last_event_id, horizon=horizon, watermark=hi)
                if verdict is not Verdict.RESUME or position is None:
                    self._restart(stream, verdict.value, hi)
                    found[stream] = []
                elif len(replay) > self.queue_max:
                    self._restart(stream, "too many changes missed", hi)
                    found[stream] = []
                else:
                    stream.offered = position
                    found[stream] = replay
        return found

    def _joined(self, *, bell_only: bool = False) -> Iterable[Stream]:
        for streams in [*self._bell.values(), *([] if bell_only else self._feed.values())]:
            yield from list(streams)

    def _hand(self, stream: Stream, change: Change, bell_rows: dict, feed_rows: dict) -> None:
        if stream.reset is not None or stream.offered is None or not is_new(change.position, stream.offered):
            return
        viewer = stream.viewer
        if change.kind == FEED:
            row = feed_rows.get(change.item_id)
            data = events.feed_item(row, viewer, stream.facts) if row is not None else None
        else:
            row = bell_rows.get(change.item_id)
            mine = row is not None and (row["user_id"], row["organization_id"]) == (
                viewer.user_id,
                viewer.organization_id,
            )
            data = None
            since = self.bell_since(viewer.organization_id) if row is not None else None
            if row is None or not mine or (since is not None and row["occurred_at"] < since):
                pass
            elif change.kind == CREATED:
                data = events.notification(row, viewer, stream.facts)
            elif change.kind == UPDATED:
                data = events.notification_updated(row, viewer, stream.facts)
        stream.offered = change.position  # seen, even when not the caller's to see
        if data is not None:
            self._put(stream, Outgoing(change.kind, data, change.position))

    def _count(self, stream: Stream, unread: dict[tuple[str, str], int]) -> None:
        counted = unread.get((stream.viewer.user_id, stream.viewer.organization_id))
        if stream.reset is not None or counted is None or counted == stream.unread:
            return
        stream.unread = counted
        data = {"unread": min(counted, UNREAD_CAP), "capped": counted > UNREAD_CAP}
        self._put(stream, Outgoing("unread-count", data, stream.offered))

    def _put(self, stream: Stream, event: Outgoing) -> None:
        try:
            stream.queue.put_nowait(event)
            EVENTS.labels(event.event).inc()
            if event.event == "reset":
                RESETS.labels(event.data["reason"]).inc()
        except asyncio.QueueFull:
            self._reset(stream, "client too slow")

    def _restart(self, stream: Stream, reason: str, hi: int) -> None:
        """A Last-Event-ID the stream cannot resume from: ``reset`` (the client reloads with the REST
        endpoints), then live changes from ``hi`` on, the reset's id."""
        stream.offered = Position(hi)
        self._put(stream, Outgoing("reset", {"reason": reason}, stream.offered))

    def _reset(self, stream: Stream, reason: str) -> None:
        """The stream sends ``reset`` before anything still queued, then closes."""
        stream.reset = reason
        RESETS.labels(reason).inc()
        self.unsubscribe(stream)
        self._wake_stream(stream)

    @staticmethod
    def _wake_stream(stream: Stream) -> None:
        """A stream waiting on an empty queue is woken by a marker it drops (``reset`` is checked first)."""
        if stream.queue.empty():
            stream.queue.put_nowait(Outgoing("wake", {}, None))
