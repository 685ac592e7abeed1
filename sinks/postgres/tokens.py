"""Device tokens: register, unbind, read the active ones, retire, count failures, prune.

Every function runs inside the caller's transaction: pass a SQLAlchemy ``Connection`` or ``Session``
(anything with ``execute(text, params)``); the caller commits. The read API calls ``register_token``
from ``POST /v1/devices`` and ``unbind_token`` from ``DELETE /v1/devices``; the push sender calls the rest.

Lifecycle (docs/push.md, "Device tokens"): a token belongs to one user at a time (PK token), so
registering it for another user moves it (the first user stops getting pushes on that device).
Registering again refreshes ``last_seen_at`` and revives a retired token. A token not seen for
``max_age`` (default 270 days, FCM's own staleness horizon) is not used, and ``prune_tokens`` deletes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from sqlalchemy import text

PLATFORMS = frozenset({"android", "ios", "web"})
TOKEN_MAX = 4096
DEFAULT_MAX_AGE = timedelta(days=270)

_REGISTER = text("""
INSERT INTO device_tokens AS d (token, user_id, platform, created_at, last_seen_at, failure_count)
VALUES (:token, :user_id, :platform, :now, :now, 0)
ON CONFLICT (token) DO UPDATE SET
    user_id = EXCLUDED.user_id, platform = EXCLUDED.platform,
    last_seen_at = GREATEST(d.last_seen_at, EXCLUDED.last_seen_at),
    created_at = CASE WHEN d.user_id <> EXCLUDED.user_id OR d.retired_at IS NOT NULL
                      THEN EXCLUDED.created_at ELSE d.created_at END,
    failure_count = 0, retired_at = NULL, retired_reason = NULL
RETURNING d.last_seen_at
""")
_ACTIVE = text("""
SELECT token, user_id, platform, created_at, last_seen_at, failure_count FROM device_tokens
WHERE user_id = ANY(:users) AND retired_at IS NULL AND last_seen_at >= :cutoff
ORDER BY user_id, last_seen_at DESC, created_at DESC, token
""")


@dataclass(frozen=True, slots=True)
class DeviceToken:
    """An active registration token of one user's device."""

    token: str
    user_id: str
    platform: str
    created_at: datetime
    last_seen_at: datetime
    failure_count: int = 0


def register_token(db, *, token: str, user_id: str, platform: str, now: datetime | None = None) -> datetime:
    """Binds ``token`` to ``user_id``: new, refreshed (``last_seen_at``), revived if retired, or moved from
    another user (who stops getting pushes on that device). Returns the token's ``last_seen_at``.
    Raises ValueError for an empty or oversized token or an unknown platform."""
    if not token or len(token) > TOKEN_MAX or token != token.strip():
        raise ValueError("a registration token is a non-empty string without surrounding spaces, at most 4096 characters")
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(sorted(PLATFORMS))}")
    params = {"token": token, "user_id": user_id, "platform": platform, "now": now or datetime.now(timezone.utc)}
    return db.execute(_REGISTER, params).scalar_one()


def unbind_token(db, *, token: str, user_id: str | None = None, now: datetime | None = None) -> bool:
    """Stops pushes to ``token`` (sign-out). With ``user_id`` only that user's binding is touched, so one
    user cannot unbind another's device. Idempotent: True while the token is (still) bound to that user,
    retired or not; False when there is no such binding."""
    owner = "" if user_id is None else " AND user_id = :user_id"
    result = db.execute(text("UPDATE device_tokens SET retired_at = COALESCE(retired_at, :now), "
                             "retired_reason = COALESCE(retired_reason, 'unbound') "
                             f"WHERE token = :token{owner}"),
                        {"token": token, "now": now or datetime.now(timezone.utc), "user_id": user_id})
    return result.rowcount > 0


def active_tokens(db, user_ids: Iterable[str], *, now: datetime,
                  max_age: timedelta = DEFAULT_MAX_AGE) -> dict[str, list[DeviceToken]]:
    """Each user's usable tokens, newest first (last seen, then created). Called once per batch."""
    users = sorted(set(user_ids))
    if not users:
        return {}
    found: dict[str, list[DeviceToken]] = {}
    for row in db.execute(_ACTIVE, {"users": users, "cutoff": now - max_age}):
        found.setdefault(row.user_id, []).append(DeviceToken(*row))
    return found


def retire_tokens(db, by_reason: dict[str, list[str]], *, now: datetime) -> int:
    """Retires tokens FCM refused for good (reason = the FCM error code); idempotent. Returns how many."""
    retired = 0
    for reason, tokens in sorted(by_reason.items()):
        if tokens:
            retired += db.execute(text(
                "UPDATE device_tokens SET retired_at = :now, retired_reason = :reason "
                "WHERE token = ANY(:tokens) AND retired_at IS NULL"),
                {"now": now, "reason": reason, "tokens": sorted(set(tokens))}).rowcount
    return retired


def count_failures(db, *, failed: Iterable[str], recovered: Iterable[str]) -> None:
    """``failure_count`` counts consecutive failed sends: +1 per failed token, 0 again after a success."""
    failed, recovered = sorted(set(failed)), sorted(set(recovered))
    if failed:
        db.execute(text("UPDATE device_tokens SET failure_count = failure_count + 1 WHERE token = ANY(:t)"),
                   {"t": failed})
    if recovered:
        db.execute(text("UPDATE device_tokens SET failure_count = 0 WHERE token = ANY(:t) AND failure_count > 0"),
                   {"t": recovered})


def prune_tokens(db, *, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> int:
    """Deletes tokens not seen for ``max_age`` and tokens retired longer ago than that; returns how many.
    Called by the push sender about hourly (HERALD_TOKEN_PRUNE_INTERVAL_S)."""
    cutoff = now - max_age
    return db.execute(text("DELETE FROM device_tokens WHERE last_seen_at < :cutoff OR retired_at < :cutoff"),
                      {"cutoff": cutoff}).rowcount
