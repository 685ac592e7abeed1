"""Settings of ``herald run api``: built once in ``api.__main__`` and passed down.

``HERALD_ENV`` defaults to ``prod`` so a deployment that forgets it fails closed: outside ``dev`` the
API refuses to start with the dev secret (or with no key at all). ``make demo`` and the tests set
``HERALD_ENV=dev`` explicitly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from streams.settings import PostgresSettings

DEV_JWT_SECRET = "herald-dev-secret-do-not-use-outside-dev"
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"})


class InsecureSettings(ValueError):
    """The API was asked to start with a key set that is unsafe (or incomplete) for its environment."""


class ApiSettings(PostgresSettings):
    """``HERALD_ENV``, ``HERALD_API_*`` and ``HERALD_API_JWT_*``; /metrics is served on the API port."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", frozen=True, extra="ignore")

    env: Literal["dev", "prod"] = Field(
        default="prod",
        description="dev or prod; outside dev the API refuses the dev JWT secret, a short secret or a missing key",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the API listens on")
    api_port: int = Field(default=8080, ge=0, le=65535, description="Port of the API and of its /metrics")
    api_workers: int = Field(default=1, ge=1, le=64, description="Uvicorn worker processes")
    api_db_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Database connections per worker; as many "
        "requests run statements at once, the others wait on the event loop",
    )
    api_db_queue_max: int = Field(
        default=2000,
        ge=1,
        le=100_000,
        description="Requests per worker that may wait "
        "for a database connection; the next one gets 503 with Retry-After at once",
    )
    api_db_wait_s: float = Field(
        default=30.0,
        gt=0,
        le=60,
        description="A request that would wait longer than "
        "this for a database connection (queue × recent hold time ÷ connections) gets 503 "
        "with Retry-After at once; one that queued gives up after twice this, in seconds",
    )
    api_max_body_bytes: int = Field(
        default=65_536,
        ge=1_024,
        le=16_777_216,
        description="Largest request body; a larger one gets 413 before it is read",
    )
    api_max_header_bytes: int = Field(
        default=32_768,
        ge=4_096,
        le=1_048_576,
        description="Largest request line and header block; a larger one gets 431 and the connection is closed",
    )
    api_max_headers: int = Field(
        default=100,
        ge=10,
        le=1_000,
        description="Most header fields in a request; more get 431 and the connection is closed",
    )
    api_limit_concurrency: int = Field(
        default=4_000,
        ge=10,
        le=100_000,
        description="Open connections plus requests in progress per worker beyond which uvicorn answers 503",
    )
    api_directory_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a caller's directory facts (care teams, supervisees, active) are cached, in seconds",
    )
    api_bell_window_days: int | None = Field(
        default=None,
        ge=1,
        description="When set, the bell and its unread count show only entries whose event is at most this many "
        "days old, for every organization; unset, as many days as retention keeps the caller's organization's "
        "bell (HERALD_RETENTION_BELL_DAYS or its HERALD_RETENTION_ORGANIZATIONS override). Older months are never read",
    )
    api_stream_heartbeat_s: float = Field(
        default=15.0, gt=0, le=300, description="Live streams: seconds between heartbeat comments on an idle stream"
    )
    api_stream_replay_s: float = Field(
        default=3600.0,
        ge=1,
        le=7 * 86400,
        description="Live streams: how long changes are kept for a reconnecting client's Last-Event-ID; "
        "an older one gets a reset",
    )
    api_stream_queue_max: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        description="Live streams: events queued per client; a client further behind gets a reset and is closed",
    )
    api_stream_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Live streams: how often the change log is read when no notification arrives, in seconds",
    )
    api_stream_recheck_s: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="Live streams: how often each open stream re-reads its caller's standing (care teams, roles, "
        "deactivation), in seconds, each stream at its own offset; a deactivated user's stream closes within this",
    )
    api_stream_send_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="Live streams: a client that accepts no data for this long is closed"
    )
    api_jwt_algorithm: str = Field(
        default="HS256", description="JWT algorithm: HS256/384/512, RS256/384/512, ES256/384 or PS256"
    )
    api_jwt_secret: SecretStr | None = Field(
        default=None, description="HMAC secret (HS*), at least 32 characters outside dev"
    )
    api_jwt_public_key_file: Path | None = Field(default=None, description="PEM public key file (RS*, ES*, PS*)")
    api_jwt_jwks_file: Path | None = Field(default=None, description="JWKS file (RS*, ES*, PS*), keys chosen by kid")
    api_jwt_audience: str | None = Field(default=None, description="Required aud claim, if set")
    api_jwt_issuer: str | None = Field(default=None, description="Required iss claim, if set")
    api_jwt_leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat, in seconds")

    def hmac_secret(self) -> str:
        """The HS* secret in force: the configured one, else the dev secret (allowed in dev only)."""
        return self.api_jwt_secret.get_secret_value() if self.api_jwt_secret else DEV_JWT_SECRET

    def check_secure(self) -> None:
        """Called before the app is built; raises InsecureSettings naming what to fix."""
        alg = self.api_jwt_algorithm
        if alg in HMAC_ALGORITHMS:
            if self.env != "dev" and self.hmac_secret() == DEV_JWT_SECRET:
                raise InsecureSettings(
                    "HERALD_API_JWT_SECRET is unset or the dev secret; "
                    "set a real secret (or RS256 with a public key) outside HERALD_ENV=dev"
                )
            if self.env != "dev" and len(self.hmac_secret()) < 32:
                raise InsecureSettings("HERALD_API_JWT_SECRET must be at least 32 characters outside dev")
        elif alg in ASYMMETRIC_ALGORITHMS:
            if not (self.api_jwt_public_key_file or self.api_jwt_jwks_file):
                raise InsecureSettings(f"{alg} needs HERALD_API_JWT_PUBLIC_KEY_FILE or HERALD_API_JWT_JWKS_FILE")
        else:
            raise InsecureSettings(f"HERALD_API_JWT_ALGORITHM {alg!r} is not supported")
