"""The hub's SQL, on its own async connection (autocommit: every read is one statement, one snapshot).

Each function is called once per poll for every connected stream of the process together, never once
per client: the window, the replays of streams that just connected, the bell rows and events the
changes name, and the unread counts of the users they touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api.live.positions import Position

FEED = "feed-item"
CREATED = "notification"
UPDATED = "notification-updated"


@dataclass(frozen=True, slots=True)
class Change:
    """One ``live_changes`` row."""

    position: Position
    kind: str
    organization_id: str
    user_id: str | None
    item_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Window:
    """Changes in [lo, hi) for the users and organizations asked for, and the pruning horizon."""

    hi: int
    horizon: int
    changes: list[Change]


def _change(row: dict) -> Change:
    return Change(
        Position(int(row["xid"]), row["seq"]), row["kind"], row["organization_id"], row["user_id"], row["item_id"]
    )


# The watermark: the oldest transaction of this database still running in the statement's snapshot, else
# the snapshot's xmax. Transactions ids are cluster-wide, so pg_snapshot_xmin alone would also wait for
# writers in other databases of the cluster, which cannot write these tables; a running id is left out
# only when pg_stat_activity shows it in another database (an id whose backend is not shown, or has
# ended meanwhile, counts as this database's: the error can only hold the watermark back, never skip).
WATERMARK = """(
    SELECT COALESCE(min(x), pg_snapshot_xmax(s.snap)) FROM pg_snapshot_xip(s.snap) x
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                      WHERE a.backend_xid = xid(x) AND a.datname IS DISTINCT FROM current_database()))"""
_WINDOW = f"""
WITH s AS (SELECT pg_current_snapshot() AS snap),
w AS (SELECT {WATERMARK} AS hi, (SELECT xid FROM live_horizon) AS horizon FROM s)
SELECT w.hi::text AS hi, w.horizon::text AS horizon, c.xid::text AS xid, c.seq, c.kind, c.organization_id,
       c.user_id, c.item_id
FROM w LEFT JOIN live_changes c
  ON c.xid >= %(lo)s::xid8 AND c.xid < w.hi
 AND (c.user_id = ANY(%(users)s) OR (c.kind = 'feed-item' AND c.organization_id = ANY(%(orgs)s)))
ORDER BY c.xid, c.seq"""


_WATERMARK_ONLY = f"""
WITH s AS (SELECT pg_current_snapshot() AS snap)
SELECT {WATERMARK}::text, (SELECT xid FROM live_horizon)::text FROM s"""


async def read_window(conn: AsyncConnection, *, lo: int, users: list[str], orgs: list[str]) -> Window:
    """One statement: the watermark, the horizon and the window's changes, all of one snapshot (every
    transaction below hi has finished in it, so its rows are all visible)."""
    if not users and not orgs:  # nobody listens: only the watermark moves, and the log is not read
        async with conn.cursor() as cur:
            await cur.execute(_WATERMARK_ONLY)
            hi, horizon = await cur.fetchone() or ("0", "0")
        return Window(int(hi), int(horizon), [])
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_WINDOW, {"lo": str(lo), "users": users, "orgs": orgs})
        rows = await cur.fetchall()
    first = rows[0]
    return Window(int(first["hi"]), int(first["horizon"]), [_change(r) for r in rows if r["xid"] is not None])


_REPLAY = """
WITH h AS (SELECT xid FROM live_horizon)
SELECT h.xid::text AS horizon, r.i, r.xid::text AS xid, r.seq, r.kind, r.organization_id, r.user_id, r.item_id
FROM h LEFT JOIN (
    SELECT s.i, c.xid, c.seq, c.kind, c.organization_id, c.user_id, c.item_id
    FROM unnest(%(keys)s::text[], %(xids)s::text[], %(seqs)s::bigint[]) WITH ORDINALITY AS s(key, xid, seq, i)
    CROSS JOIN LATERAL (
        SELECT * FROM live_changes c
        WHERE {match} AND (c.xid, c.seq) > (s.xid::xid8, s.seq) AND c.xid < %(hi)s::xid8
        ORDER BY c.xid, c.seq LIMIT %(limit)s) c
) r ON true
ORDER BY r.i, r.xid, r.seq"""
_BELL_REPLAY = _REPLAY.format(match="c.user_id = s.key")
_FEED_REPLAY = _REPLAY.format(match="c.kind = 'feed-item' AND c.organization_id = s.key")


async def read_replays(
    conn: AsyncConnection, *, feed: bool, since: list[tuple[str, Position]], hi: int, limit: int
) -> tuple[int, list[list[Change]]]:
    """The horizon, and for each (user or organization, position) its changes after the position and
    below ``hi``, at most ``limit``; one statement for all, so the horizon and the rows are of one
    snapshot (a prune that ran meanwhile shows in both or in neither)."""
    replays: list[list[Change]] = [[] for _ in since]
    params: dict[str, Any] = {
        "keys": [key for key, _ in since],
        "xids": [str(p.xid) for _, p in since],
        "seqs": [p.seq for _, p in since],
        "hi": str(hi),
        "limit": limit,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_FEED_REPLAY if feed else _BELL_REPLAY, params)
        rows = await cur.fetchall()
    for row in rows:
        if row["i"] is not None:
            replays[row["i"] - 1].append(_change(row))
    return int(rows[0]["horizon"]), replays


async def load_notifications(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """The bell rows named by changes, with their alert's state and the columns of their event that
    ``processors.visibility.can_see`` reads (each stream decides ``event_title`` for its own caller)."""
    if not ids:
        return {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """
            SELECT p.notification_id, p.user_id, p.organization_id, p.event_id, p.event_type, p.priority, p.reason,
                   p.patient_id, p.resource_type, p.resource_id, p.occurred_at, p.created_at, p.read_at,
                   p.alert_step, p.acknowledged_at, p.declined_at, al.state AS alert_state,
                   e.title AS e_title, e.organization_id AS e_organization_id, e.visibility AS e_visibility,
                   e.actor_user_id AS e_actor_user_id, e.patient_id AS e_patient_id
            FROM user_notifications p
            LEFT JOIN activity_events e ON e.event_id = p.event_id AND e.occurred_at = p.occurred_at
            LEFT JOIN alerts al ON al.event_id = p.event_id AND p.alert_step IS NOT NULL
            WHERE p.notification_id = ANY(%(ids)s)""",
            {"ids": ids},
        )
        return {row["notification_id"]: row for row in await cur.fetchall()}


async def load_events(conn: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """The activity rows named by feed changes: the feed's columns plus the organization."""
    if not ids:
        return {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """
            SELECT event_id, event_type, priority, occurred_at, actor_user_id, patient_id, encounter_id,
                   resource_type, resource_id, title, description, visibility, attributes, organization_id
            FROM activity_events WHERE event_id = ANY(%(ids)s)""",
            {"ids": ids},
        )
        return {row["event_id"]: row for row in await cur.fetchall()}


async def count_unread(
    conn: AsyncConnection,
    users: list[tuple[str, str]],
    cap: int,
    since: Callable[[str], datetime | None] = lambda organization_id: None,
) -> dict[tuple[str, str], int]:
    """Unread counts of (user, organization) pairs, each counted up to ``cap`` (``api.queries.UNREAD_SQL``'s
    index-only scan), in one statement; only entries of events at or after ``since(organization)``, the
    bell's window, as the REST count (``api.windows``)."""
    if not users:
        return {}
    async with conn.cursor() as cur:
        await cur.execute(
            """
            SELECT u.user_id, u.org, (
                SELECT count(*) FROM (
                    SELECT 1 FROM user_notifications n WHERE n.user_id = u.user_id AND n.organization_id = u.org
                    AND n.read_at IS NULL AND n.occurred_at >= COALESCE(u.since, '-infinity')
                    ORDER BY n.created_at DESC LIMIT %(cap)s) capped)
            FROM unnest(%(users)s::text[], %(orgs)s::text[], %(since)s::timestamptz[]) AS u(user_id, org, since)""",
            {
                "users": [u for u, _ in users],
                "orgs": [o for _, o in users],
                "since": [since(o) for _, o in users],
                "cap": cap,
            },
        )
        return {(user, org): n for user, org, n in await cur.fetchall()}


async def prune(conn: AsyncConnection, *, replay_s: float) -> int:
    """Notes the oldest running transaction, then drops the changes below the newest mark older than
    the replay window and moves the horizon there, in one transaction (a replay reading the horizon
    and the rows in one snapshot sees both moves or neither). Returns the rows deleted. Any number of
    API processes may run it; the horizon only moves forward."""
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute("INSERT INTO live_marks (xid) VALUES (pg_snapshot_xmin(pg_current_snapshot()))")
        await cur.execute(
            "SELECT max(xid)::text FROM live_marks WHERE at < clock_timestamp() - make_interval(secs => %(s)s)",
            {"s": replay_s},
        )
        boundary = (await cur.fetchone() or (None,))[0]
        if boundary is None:
            return 0
        await cur.execute(
            "UPDATE live_horizon SET xid = %(b)s::xid8, pruned_at = now() WHERE xid < %(b)s::xid8", {"b": boundary}
        )
        if not cur.rowcount:
            return 0
        await cur.execute("DELETE FROM live_changes WHERE xid < %(b)s::xid8", {"b": boundary})
        deleted = cur.rowcount
        await cur.execute("DELETE FROM live_marks WHERE xid < %(b)s::xid8", {"b": boundary})
        return deleted
