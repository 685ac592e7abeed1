"""Settings read from ``HERALD_*`` env vars.

Each process composes one frozen settings class from these parts and builds it once in its
``__main__``, then passes it down. Secrets are ``SecretStr`` so they print masked. Every field has a
``description``: ``python -m cli.settings_doc`` turns them into docs/settings.md, and a unit test keeps
that page in step with these classes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every settings class of every process is built with this config (processors and sinks too).
HERALD_CONFIG = SettingsConfigDict(env_prefix="HERALD_", frozen=True, extra="ignore")


class KafkaSettings(BaseSettings):
    """Where the broker is and how topic and group names are prefixed."""

    model_config = HERALD_CONFIG

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers (host:port, comma-separated)"
    )
    schema_registry_url: str | None = Field(
        default=None,
        description="Confluent Schema Registry URL; set: records use the registry framing "
        "(magic byte + schema id), unset: Avro single-object encoding with the schema fingerprint",
    )
    topic_prefix: str = Field(default="emr.", description="Prefix of every topic name (emr.activity-events.v1, ...)")
    group_prefix: str = Field(
        default="herald-",
        description="Prefix of every consumer group id; the lag exporter reports every group whose name starts with it",
    )
    # None by default: Herald's records are small Avro and a producer sends most of them one per batch
    # (librdkafka sends one partition per request), where compression saves nothing and costs CPU on both
    # ends (docs/decisions/0031-producer-compression-off.md). lz4 or zstd pay where batches are large and
    # the network or disk is what is scarce.
    kafka_compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = Field(
        default="none", description="Compression of every producer (none, lz4, zstd, snappy, gzip)"
    )

    def topic(self, base: str) -> str:
        """Full topic name of a base name such as ``activity-events.v1``."""
        return f"{self.topic_prefix}{base}"

    def group(self, base: str) -> str:
        """Full consumer group id of a base name such as ``persister``."""
        return f"{self.group_prefix}{base}"


class PostgresSettings(BaseSettings):
    """The database every sink writes to."""

    model_config = HERALD_CONFIG

    database_url: str = Field(
        default="postgresql+psycopg://herald@127.0.0.1:5432/herald",
        description="SQLAlchemy URL of the Postgres database (psycopg 3 driver)",
    )


class MetricsSettings(BaseSettings):
    """Port of the process's /metrics, /healthz, /readyz endpoint (``streams.health``): unset means the
    process's default port (processors/registry.py), 0 turns it off. ``/healthz`` fails once
    the loop has not turned for ``liveness_timeout_s``."""

    model_config = HERALD_CONFIG

    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of /metrics, /healthz and /readyz; unset: the process's own default (9301-9308), 0: off",
    )
    liveness_timeout_s: float = Field(
        default=60.0, gt=0, description="/healthz fails once the loop has not turned for this long"
    )
    ready_max_failed_batches: int = Field(
        default=3, ge=1, description="/readyz fails after this many failed batches (or periodic ticks) in a row"
    )


class RuntimeSettings(BaseSettings):
    """Batching knobs of the consumer runtime."""

    model_config = HERALD_CONFIG

    batch_max_records: int = Field(default=5000, ge=1, description="Most records in one batch")
    # consume() returns when the batch is full or this time has passed (so a backlog smaller than a full
    # batch still waits it out, unless eager_batches); a short wait bounds each hop's added latency
    # (docs/decisions/0032-short-batch-waits.md).
    batch_timeout_s: float = Field(default=0.05, gt=0, description="Longest wait for a batch to fill, in seconds")
    # On for the push sender, whose per-batch cost is small next to its per-push cost: a wait per cycle
    # only grows the next batch and the latency (streams/runtime.py:LoopConfig.eager).
    eager_batches: bool = Field(
        default=False,
        description="Start a batch at once with the records already "
        "queued, or with the first to arrive, instead of waiting for a full batch",
    )
    session_timeout_ms: int = Field(default=45_000, ge=6_000, description="How long a dead member keeps its partitions")
    # For an input written record by record (the activity topic): a fetch every 20 ms instead of one per
    # producer request (streams/app.py:fetching). FetchAtFirstByte overrides it.
    fetch_min_bytes: int = Field(
        default=262_144,
        ge=1,
        description="A fetch is answered once this many bytes are there (or after fetch_wait_max_ms)",
    )
    fetch_wait_max_ms: int = Field(default=20, ge=1, description="Longest a fetch waits for fetch_min_bytes, in ms")
    # streams/checkpoint.py; docs/decisions/0015-held-offset-commits.md.
    commit_interval_ms: int = Field(
        default=1_000,
        ge=0,
        le=60_000,
        description="Plain (non-transactional) offset "
        "commits wait up to this long and go with a later batch's; idle, revoke and "
        "shutdown commit at once; 0: commit every batch",
    )
    # streams/runtime.py; docs/decisions/0014-pipelined-loop.md.
    pipelined: bool = Field(
        default=True,
        description="Persister, fan-out and push sender write batch N on a "
        "writer thread while they poll and plan batch N+1; false: one batch at a time",
    )
    # A broker or database that is gone must not keep a processor from stopping (streams/runtime.py).
    shutdown_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="After SIGTERM: time to finish the batch, commit and close before exiting with code 75",
    )
    stall_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A partition behind its end with no batch done "
        "for this long is stalled: /readyz fails, herald_partition_stalled reads 1",
    )
    # streams/app.py:tune_gc; docs/decisions/0018-gc-tuning.md.
    gc_tuning: bool = Field(
        default=True,
        description="Freeze the start-up heap and run young collections every "
        "10,000 allocations instead of 700; false keeps CPython's defaults",
    )


class JobSettings(MetricsSettings, RuntimeSettings):
    """What running a loop as a process takes (its endpoints, liveness, readiness, shutdown deadline,
    GC tuning): ``processors.periodic.run_periodic`` reads no more."""

    model_config = HERALD_CONFIG


class ProcessorSettings(KafkaSettings, PostgresSettings, JobSettings):
    """Settings every consumer-group processor shares."""

    model_config = HERALD_CONFIG

    instance_id: str = Field(
        default="",
        description="Stable per replica (pod name): names the transactional id "
        "and, when set, makes the replica a static group member (streams.app.membership)",
    )


class FetchAtFirstByte(BaseSettings):
    """For a processor whose input is written rarely or in Kafka transactions (put before
    ProcessorSettings among the bases): a fetch answered at the first byte returns at once when there is
    something to read, and otherwise after 500 ms, instead of on a 20 ms tick (RuntimeSettings).

    The push topic is written in the fan-out's transactions, a few a second, and a read-committed fetch
    sees records only once one commits: the push sender's fetch now returns right after each commit
    instead of up to 20 ms later. The directory topic changes rarely: idle, a consumer fetching every
    20 ms keeps the broker busy for nothing (docs/decisions/0033-fetch-at-first-byte.md)."""

    model_config = HERALD_CONFIG

    fetch_min_bytes: int = Field(default=1, ge=1, description="A fetch is answered at the first byte")
    fetch_wait_max_ms: int = Field(default=500, ge=1, description="Longest an idle fetch waits, in ms")


class ProducerSettings(KafkaSettings):
    """Settings of the producer SDK and ``herald produce``."""

    model_config = HERALD_CONFIG

    # 20 ms, not librdkafka's 5: librdkafka sends one partition per request, and at a few hundred events/s
    # over 12 partitions 5 ms sent about one request per event (docs/decisions/0025-producer-sdk-buffering.md).
    # publish() never waits for it either way.
    producer_linger_ms: int = Field(
        default=20,
        description="How long the SDK holds a partition's first record for others to join its produce request, in ms",
    )
    producer_buffer_max_messages: int = Field(
        default=100_000,
        description="Records the SDK queues while Kafka is slow or down; beyond it publish() reports a failure",
    )
    producer_delivery_timeout_ms: int = Field(
        default=300_000, description="How long a queued record is retried before it is reported as failed, in ms"
    )
