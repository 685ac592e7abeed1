"""Device-token lifecycle in Postgres: register, refresh, move, unbind, staleness, retirement, pruning."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from sinks.postgres.tokens import (
    active_tokens,
    count_failures,
    prune_tokens,
    register_token,
    retire_tokens,
    unbind_token,
)

pytestmark = pytest.mark.integration
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
AGE = timedelta(days=270)


@pytest.fixture
def db(engine):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM device_tokens WHERE token LIKE 'tk-%'"))
    with engine.begin() as conn:
        yield conn


def tokens_of(db, user: str) -> list[str]:
    return [t.token for t in active_tokens(db, [user], now=NOW, max_age=AGE).get(user, [])]


@pytest.fixture
def u():
    """User ids of this test only (the session database is shared with other tests)."""
    run = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{run}"


def test_active_tokens_are_fresh_unretired_and_newest_first(db, u):
    register_token(db, token="tk-old", user_id=u("u1"), platform="android", now=NOW - timedelta(days=100))
    register_token(db, token="tk-new", user_id=u("u1"), platform="ios", now=NOW - timedelta(days=1))
    register_token(db, token="tk-stale", user_id=u("u1"), platform="android", now=NOW - timedelta(days=271))
    register_token(db, token="tk-gone", user_id=u("u1"), platform="android", now=NOW)
    retire_tokens(db, {"UNREGISTERED": ["tk-gone"]}, now=NOW)

    assert tokens_of(db, u("u1")) == ["tk-new", "tk-old"]


def test_reregistering_refreshes_revives_and_moves_a_token(db, u):
    register_token(db, token="tk-phone", user_id=u("u1"), platform="android", now=NOW - timedelta(days=300))
    assert tokens_of(db, u("u1")) == []  # stale: not used
    count_failures(db, failed=["tk-phone"], recovered=[])
    retire_tokens(db, {"UNREGISTERED": ["tk-phone"]}, now=NOW)

    register_token(db, token="tk-phone", user_id=u("u1"), platform="android", now=NOW)  # the app registered again
    assert tokens_of(db, u("u1")) == ["tk-phone"]
    register_token(db, token="tk-phone", user_id=u("u2"), platform="ios", now=NOW)  # the phone changed hands
    row = db.execute(
        text("SELECT user_id, platform, failure_count, retired_at FROM device_tokens WHERE token = 'tk-phone'")
    ).one()

    assert (row.user_id, row.platform, row.failure_count, row.retired_at) == (u("u2"), "ios", 0, None)
    assert tokens_of(db, u("u1")) == [] and tokens_of(db, u("u2")) == ["tk-phone"]
    assert unbind_token(db, token="tk-phone", user_id=u("u1"), now=NOW) is False  # not u1's any more
    assert unbind_token(db, token="tk-phone", user_id=u("u2"), now=NOW) is True
    assert tokens_of(db, u("u2")) == []


def test_prune_deletes_stale_and_long_retired_tokens_only(db, u):
    register_token(db, token="tk-fresh", user_id=u("u3"), platform="web", now=NOW)
    register_token(db, token="tk-stale", user_id=u("u3"), platform="web", now=NOW - timedelta(days=280))
    register_token(db, token="tk-retired-long-ago", user_id=u("u3"), platform="web", now=NOW - timedelta(days=10))
    retire_tokens(db, {"UNREGISTERED": ["tk-retired-long-ago"]}, now=NOW - timedelta(days=300))
    register_token(db, token="tk-retired-lately", user_id=u("u3"), platform="web", now=NOW - timedelta(days=10))
    retire_tokens(db, {"UNREGISTERED": ["tk-retired-lately"]}, now=NOW - timedelta(days=1))

    pruned = prune_tokens(db, now=NOW, max_age=AGE)
    left = db.execute(text("SELECT token FROM device_tokens WHERE token LIKE 'tk-%' ORDER BY token")).scalars().all()

    assert pruned >= 2 and left == ["tk-fresh", "tk-retired-lately"]  # other tests' tokens are recent


@pytest.mark.parametrize("token, platform", [("", "ios"), (" tk-x", "ios"), ("tk-x", "pager"), ("x" * 4097, "ios")])
def test_bad_registrations_are_refused(db, u, token, platform):
    with pytest.raises(ValueError):
        register_token(db, token=token, user_id=u("u1"), platform=platform, now=NOW)
