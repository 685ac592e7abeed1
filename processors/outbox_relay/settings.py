"""Settings of the outbox relay (``herald run outbox-relay``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from streams.outbox_schema import DEFAULT_TABLE
from streams.settings import HERALD_CONFIG, JobSettings, KafkaSettings


class OutboxRelaySettings(KafkaSettings, JobSettings):
    """Settings of ``herald run outbox-relay``. The outbox lives in the EMR's database, not Herald's, so its
    URL is a setting of its own (``HERALD_DATABASE_URL`` is not read)."""

    model_config = HERALD_CONFIG

    # The local stack's database by default, so `herald run all` starts a relay that waits (not ready) until
    # `herald outbox install` has run there; a deployment sets the EMR's.
    outbox_database_url: str = Field(
        default="postgresql+psycopg://herald@127.0.0.1:5432/herald",
        description="URL of the EMR database that holds the outbox table (SQLAlchemy, or libpq's postgresql://, "
        "which gets the psycopg 3 driver)",
    )
    outbox_table: str = Field(
        default=DEFAULT_TABLE, description="The outbox table (its dead letters: <table>_dead, its channel: <table>)"
    )
    outbox_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="Longest wait between passes when no insert notification arrives (LISTEN's fallback), in seconds",
    )
    outbox_busy_poll_s: float = Field(
        default=0.01,
        gt=0,
        le=1.0,
        description="How soon the relay looks again while EMR transactions that inserted rows are still open "
        "(writers notify only while a relay sleeps, and it cannot sleep before they commit), in seconds",
    )
    outbox_batch_size: int = Field(default=500, ge=1, le=50_000, description="Most rows one pass claims and sends")
    outbox_delivery_timeout_ms: int = Field(
        default=15_000,
        ge=1_000,
        description="How long a pass waits for the broker to acknowledge its rows before it rolls back and "
        "retries them, in ms",
    )
    outbox_count_interval_s: float = Field(
        default=5.0, gt=0, description="How often the outbox's depth and oldest row are counted, in seconds"
    )
    outbox_retry_base_s: float = Field(
        default=0.5, gt=0, description="First wait after a failed pass; doubled each failure in a row, in seconds"
    )
    outbox_retry_cap_s: float = Field(default=30.0, gt=0, description="Longest wait after failed passes, in seconds")

    @field_validator("outbox_database_url")
    @classmethod
    def _psycopg_driver(cls, url: str) -> str:
        """An EMR's libpq URL (``postgresql://…``) would make SQLAlchemy look for psycopg2: use psycopg 3."""
        for scheme in ("postgresql://", "postgres://"):
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url[len(scheme) :]
        return url
