"""Device tokens: register, unbind, read the active ones, retire, count failures, prune.

Every function runs inside the caller's transaction: pass a SQLAlchemy ``Connection`` or ``Session``
(anything with ``execute(text, params)``); the caller commits. The read API calls ``claim_token``
from ``POST /v1/devices`` and ``unbind_token`` / ``moved_away`` from ``DELETE /v1/devices``; the push
sender calls the rest; ``register_token`` is for trusted seeding (the demo, tests, benchmarks).

Lifecycle (docs/push.md, "Device tokens"): a token belongs to one user at a time (PK token).
``claim_token`` moves a token another user holds only with proof of possession of the device (the
installation id its app generated, of which only a hash is kept) and only within one organization,
and records the move in ``device_token_moves`` (docs/decisions/0141-device-ownership.md).
Registering again refreshes ``last_seen_at`` and revives a retired token. A token not seen for
``max_age`` (default 270 days, FCM's own staleness horizon) is not used, and ``prune_tokens`` deletes it.
"""

from __future__ import annotations

import enum
import hashlib
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
# One statement, so the check and the move are atomic even on an autocommit connection: the upsert
# changes the row only when the caller owns it or proves possession within the same organization, a
# condition Postgres evaluates on the locked, latest row version; ``prev`` (the statement's snapshot,
# not locked: a FOR UPDATE there would skip the row the upsert changes) names the previous owner for
# ``moved``, which records a move. A refused claim changes nothing.
_CLAIM = text("""
WITH prev AS (
    SELECT d.user_id, COALESCE(d.organization_id,
                               (SELECT u.organization_id FROM directory_users u WHERE u.user_id = d.user_id)) AS org
    FROM device_tokens d WHERE d.token = :token
), claimed AS (
    INSERT INTO device_tokens AS d (token, user_id, organization_id, platform, installation_hash, created_at,
                                    last_seen_at, failure_count)
    VALUES (:token, :user_id, :org, :platform, :ihash, :now, :now, 0)
    ON CONFLICT (token) DO UPDATE SET
        user_id = EXCLUDED.user_id, organization_id = EXCLUDED.organization_id, platform = EXCLUDED.platform,
        installation_hash = COALESCE(EXCLUDED.installation_hash, d.installation_hash),
        last_seen_at = GREATEST(d.last_seen_at, EXCLUDED.last_seen_at),
        created_at = CASE WHEN d.user_id <> EXCLUDED.user_id OR d.retired_at IS NOT NULL
                          THEN EXCLUDED.created_at ELSE d.created_at END,
        failure_count = 0, retired_at = NULL, retired_reason = NULL
    WHERE d.user_id = EXCLUDED.user_id
       OR (EXCLUDED.installation_hash IS NOT NULL AND d.installation_hash = EXCLUDED.installation_hash
           AND COALESCE(d.organization_id, (SELECT u.organization_id FROM directory_users u
                                            WHERE u.user_id = d.user_id)) = EXCLUDED.organization_id)
    RETURNING d.last_seen_at
), moved AS (
    INSERT INTO device_token_moves (token_sha256, from_user_id, to_user_id, organization_id, moved_at)
    SELECT :token_sha256, prev.user_id, :user_id, :org, :now FROM prev, claimed WHERE prev.user_id <> :user_id
    RETURNING 1
)
SELECT (SELECT last_seen_at FROM claimed) AS last_seen_at, (SELECT org FROM prev) AS previous_org,
       (SELECT count(*) FROM moved) AS moved
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


class Claim(enum.Enum):
    """What ``claim_token`` did."""

    REGISTERED = "registered"  # new, refreshed or revived: the caller's own
    MOVED = "moved"  # from another user of the organization, with proof of possession; recorded
    HELD_BY_ANOTHER_USER = "held_by_another_user"  # refused: no (matching) installation id
    HELD_IN_ANOTHER_ORGANIZATION = "held_in_another_organization"  # refused, whatever the proof


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: Claim
    last_seen_at: datetime | None


def token_sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def installation_hash(installation_id: str) -> bytes:
    """Only a hash of the device-held secret is stored: the table does not let anyone claim a device."""
    return hashlib.sha256(b"herald-installation:" + installation_id.encode()).digest()


def claim_token(
    db,
    *,
    token: str,
    user_id: str,
    organization_id: str,
    platform: str,
    installation_id: str | None = None,
    now: datetime | None = None,
) -> ClaimResult:
    """Binds ``token`` to ``user_id`` of ``organization_id`` when it is new, already theirs, or held by
    another user of the same organization and ``installation_id`` matches the one stored with it (then
    the move is recorded). A first registration stores the installation id's hash; the owner's later
    registration with another installation id replaces it. Otherwise nothing changes."""
    _check(token, platform)
    row = db.execute(
        _CLAIM,
        {
            "token": token,
            "user_id": user_id,
            "org": organization_id,
            "platform": platform,
            "ihash": installation_hash(installation_id) if installation_id else None,
            "token_sha256": token_sha256(token),
            "now": now or datetime.now(timezone.utc),
        },
    ).one()
    if row.last_seen_at is not None:
        return ClaimResult(Claim.MOVED if row.moved else Claim.REGISTERED, row.last_seen_at)
    if row.previous_org != organization_id:
        return ClaimResult(Claim.HELD_IN_ANOTHER_ORGANIZATION, None)
    return ClaimResult(Claim.HELD_BY_ANOTHER_USER, None)


def moved_away(db, *, token: str, user_id: str) -> bool:
    """Whether ``token`` was moved from ``user_id`` to another user (so their sign-out finds nothing)."""
    return db.execute(
        text("SELECT EXISTS (SELECT 1 FROM device_token_moves WHERE token_sha256 = :t AND from_user_id = :u)"),
        {"t": token_sha256(token), "u": user_id},
    ).scalar_one()


def _check(token: str, platform: str) -> None:
    if not token or len(token) > TOKEN_MAX or token != token.strip():
        raise ValueError(
            "a registration token is a non-empty string without surrounding spaces, at most 4096 characters"
        )
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(sorted(PLATFORMS))}")


def register_token(db, *, token: str, user_id: str, platform: str, now: datetime | None = None) -> datetime:
    """Trusted seeding only (the demo, tests, benchmarks; never a request): binds ``token`` to ``user_id``,
    new, refreshed (``last_seen_at``), revived if retired, or moved from another user without proof.
    Returns the token's ``last_seen_at``. Raises ValueError for an empty or oversized token or an
    unknown platform. The API uses ``claim_token``."""
    _check(token, platform)
    params = {"token": token, "user_id": user_id, "platform": platform, "now": now or datetime.now(timezone.utc)}
    return db.execute(_REGISTER, params).scalar_one()


def unbind_token(db, *, token: str, user_id: str | None = None, now: datetime | None = None) -> bool:
    """Stops pushes to ``token`` (sign-out). With ``user_id`` only that user's binding is touched, so one
    user cannot unbind another's device. Idempotent: True while the token is (still) bound to that user,
    retired or not; False when there is no such binding."""
    owner = "" if user_id is None else " AND user_id = :user_id"
    result = db.execute(
        text(
            "UPDATE device_tokens SET retired_at = COALESCE(retired_at, :now), "
            "retired_reason = COALESCE(retired_reason, 'unbound') "
            f"WHERE token = :token{owner}"
        ),
        {"token": token, "now": now or datetime.now(timezone.utc), "user_id": user_id},
    )
    return result.rowcount > 0


def active_tokens(
    db, user_ids: Iterable[str], *, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE
) -> dict[str, list[DeviceToken]]:
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
            retired += db.execute(
                text(
                    "UPDATE device_tokens SET retired_at = :now, retired_reason = :reason "
                    "WHERE token = ANY(:tokens) AND retired_at IS NULL"
                ),
                {"now": now, "reason": reason, "tokens": sorted(set(tokens))},
            ).rowcount
    return retired


def count_failures(db, *, failed: Iterable[str], recovered: Iterable[str]) -> None:
    """``failure_count`` counts consecutive failed sends: +1 per failed token, 0 again after a success."""
    failed, recovered = sorted(set(failed)), sorted(set(recovered))
    if failed:
        db.execute(
            text("UPDATE device_tokens SET failure_count = failure_count + 1 WHERE token = ANY(:t)"), {"t": failed}
        )
    if recovered:
        db.execute(
            text("UPDATE device_tokens SET failure_count = 0 WHERE token = ANY(:t) AND failure_count > 0"),
            {"t": recovered},
        )


def prune_tokens(db, *, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> int:
    """Deletes tokens not seen for ``max_age`` and tokens retired longer ago than that; returns how many.
    Called by the push sender about hourly (HERALD_TOKEN_PRUNE_INTERVAL_S)."""
    cutoff = now - max_age
    db.execute(text("DELETE FROM device_token_moves WHERE moved_at < :cutoff"), {"cutoff": cutoff})
    return db.execute(
        text("DELETE FROM device_tokens WHERE last_seen_at < :cutoff OR retired_at < :cutoff"), {"cutoff": cutoff}
    ).rowcount
