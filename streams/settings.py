"""Settings read from ``HERALD_*`` env vars.

Each process composes one frozen settings class from these parts and builds it once in its
``__main__`` (STYLE 18). Secrets are ``SecretStr`` so they print masked.
"""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_CONFIG = SettingsConfigDict(env_prefix="HERALD_", frozen=True, extra="ignore")


class KafkaSettings(BaseSettings):
    """Where the broker is and how topic and group names are prefixed."""

    model_config = _CONFIG

    kafka_bootstrap: str = "127.0.0.1:9092"
    schema_registry_url: str | None = None
    topic_prefix: str = "emr."
    group_prefix: str = "herald-"

    def topic(self, base: str) -> str:
        """Full topic name of a base name such as ``activity-events.v1``."""
        return f"{self.topic_prefix}{base}"

    def group(self, base: str) -> str:
        """Full consumer group id of a base name such as ``persister``."""
        return f"{self.group_prefix}{base}"


class PostgresSettings(BaseSettings):
    """The database every sink writes to."""

    model_config = _CONFIG

    database_url: str = "postgresql+psycopg://herald@127.0.0.1:5432/herald"


class MetricsSettings(BaseSettings):
    """Port of the process's Prometheus endpoint; 0 turns it off."""

    model_config = _CONFIG

    metrics_port: int = Field(default=0, ge=0, le=65535)


class RuntimeSettings(BaseSettings):
    """Batching knobs of the consumer runtime."""

    model_config = _CONFIG

    batch_max_records: int = Field(default=5000, ge=1)
    batch_timeout_s: float = Field(default=0.5, gt=0)


class PersisterSettings(KafkaSettings, PostgresSettings, MetricsSettings, RuntimeSettings):
    """Settings of ``herald run persister``."""

    model_config = _CONFIG

    persist_strategy: str = Field(default="copy", pattern="^(copy|executemany)$")


class ProducerSettings(KafkaSettings):
    """Settings of the producer SDK and ``herald produce``."""

    model_config = _CONFIG

    producer_linger_ms: int = 5
    producer_buffer_max_messages: int = 100_000
    producer_delivery_timeout_ms: int = 300_000
