"""Settings read from ``HERALD_*`` env vars.

Each process composes one frozen settings class from these parts and builds it once in its
``__main__`` (STYLE 18). Secrets are ``SecretStr`` so they print masked.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_CONFIG = SettingsConfigDict(env_prefix="HERALD_", frozen=True, extra="ignore")


class KafkaSettings(BaseSettings):
    """Where the broker is and how topic and group names are prefixed."""

    model_config = _CONFIG

    kafka_bootstrap: str = "127.0.0.1:9092"
    schema_registry_url: str | None = None
    topic_prefix: str = "emr."
    group_prefix: str = "herald-"
    # Producer compression. None by default: Herald's records are small Avro (~0.2–0.5 KB) and a producer
    # with a 5 ms linger sends most of them one per batch (librdkafka sends one partition per request),
    # where lz4 saves nothing and costs CPU on both ends; on the local broker, 500 single-record
    # batches/s took 18.7–23 % of a core with lz4 and 15–18.5 % without (bench/compression.py, two runs;
    # docs/benchmarks.md, sixth session).
    # Set lz4 or zstd where batches are large and the network or disk is what is scarce.
    kafka_compression: Literal["none", "lz4", "zstd", "snappy", "gzip"] = "none"

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
    """Port of the process's /metrics, /healthz, /readyz endpoint (``streams.health``): unset means the
    process's default port (``streams.health.DEFAULT_PORTS``), 0 turns it off. ``/healthz`` fails once
    the loop has not turned for ``liveness_timeout_s``."""

    model_config = _CONFIG

    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    liveness_timeout_s: float = Field(default=60.0, gt=0)
    # A consumer's /readyz fails after this many failed batches in a row (RuntimeSettings.stall_timeout_s too).
    ready_max_failed_batches: int = Field(default=3, ge=1)


class RuntimeSettings(BaseSettings):
    """Batching knobs of the consumer runtime."""

    model_config = _CONFIG

    batch_max_records: int = Field(default=5000, ge=1)
    # consume() returns when the batch is full or this time has passed (so a backlog smaller than a full
    # batch still waits it out, unless eager_batches); a short wait bounds each hop's added latency (0.5 s
    # here put p50 publish→push over a second across three hops).
    batch_timeout_s: float = Field(default=0.05, gt=0)
    # True: a batch starts at once with the records already queued; when none are, with the first record
    # to arrive (waiting at most the timeout above; streams/runtime.py:LoopConfig.eager). On for the push
    # sender, whose per-batch cost is small next to its per-push cost: a 50 ms wait per cycle only grows
    # the next batch and the latency.
    eager_batches: bool = False
    session_timeout_ms: int = Field(default=45_000, ge=6_000, description="How long a dead member keeps its partitions")
    # A consumer's fetch is answered when fetch_min_bytes are there or after fetch_wait_max_ms
    # (streams/app.py:fetching). For an input written record by record (the activity topic) 256 KB / 20 ms:
    # a fetch every 20 ms instead of one per producer request. FetchAtFirstByte overrides it.
    fetch_min_bytes: int = Field(default=262_144, ge=1)
    fetch_wait_max_ms: int = Field(default=20, ge=1)
    # Plain (non-transactional) offset commits wait up to this long and go with a later batch's; an idle
    # loop, a revocation and shutdown commit at once (streams/checkpoint.py). 0: every batch, as before.
    commit_interval_ms: int = Field(default=1_000, ge=0, le=60_000)
    # The persister, the fan-out and the push sender write batch N (Postgres, Kafka) on a writer thread
    # while they poll, decode and plan batch N+1 (streams/runtime.py); false: one batch at a time.
    pipelined: bool = True
    # After SIGTERM a processor has this long to finish its batch, commit and close, then exits non-zero
    # at once (streams/runtime.py: a broker or database that is gone must not keep it from stopping).
    shutdown_timeout_s: float = Field(default=30.0, gt=0)
    # /readyz fails, and herald_partition_stalled reads 1, for a partition that is behind and has had no
    # batch done for this long (paused by failing batches, or stuck).
    stall_timeout_s: float = Field(default=60.0, gt=0)
    # After start-up the collector's oldest generation is frozen and young collections run every 10,000
    # allocations instead of 700 (streams/app.py:tune_gc); false keeps CPython's defaults.
    gc_tuning: bool = True


class ProcessorSettings(KafkaSettings, PostgresSettings, MetricsSettings, RuntimeSettings):
    """Settings every consumer-group processor shares."""

    model_config = _CONFIG

    instance_id: str = Field(default="", description="Stable per replica (pod name): names the transactional id and, when set, the static group member (streams.app.membership)")


class FetchAtFirstByte(BaseSettings):
    """For a processor whose input is written rarely or in Kafka transactions (put before
    ProcessorSettings among the bases): a fetch answered at the first byte returns at once when there is
    something to read, and otherwise after 500 ms, instead of on a 20 ms tick (RuntimeSettings).

    The push topic is written in the fan-out's transactions, a few a second, and a read-committed fetch
    sees records only once one commits: the push sender's fetch now returns right after each commit
    instead of up to 20 ms later. The directory topic changes rarely: idle, a consumer fetching every
    20 ms kept the local broker 3-4 points of a core busier (5-7 % against 2-3 %, 15 s samples of its
    threads' CPU with the directory processor alone; docs/benchmarks.md, eighth session)."""

    model_config = _CONFIG

    fetch_min_bytes: int = Field(default=1, ge=1)
    fetch_wait_max_ms: int = Field(default=500, ge=1)


class DirectorySettings(FetchAtFirstByte, ProcessorSettings):
    """Settings of ``herald run directory``."""

    model_config = _CONFIG


class PersisterSettings(ProcessorSettings):
    """Settings of ``herald run persister``."""

    model_config = _CONFIG

    persist_strategy: str = Field(default="copy", pattern="^(copy|staging|executemany)$")
    # Larger than the other processors' 5,000: the persister's per-batch work (offset commit, key lookup,
    # Postgres commit) is its only fixed cost, and under a backlog 20,000-record batches ran 22.1–28.8k
    # events/s against 18.5–22.0k with 5,000 and 19.7–22.2k with 10,000 (bench/persist_peer.py, 3
    # repetitions each; peak RSS 230–290 MB against 180–190 and 260). A trickle still goes out every
    # batch_timeout_s.
    batch_max_records: int = Field(default=20_000, ge=1)


class ProducerSettings(KafkaSettings):
    """Settings of the producer SDK and ``herald produce``."""

    model_config = _CONFIG

    # How long the SDK holds a partition's first record for others to join its produce request. 20 ms,
    # not librdkafka's 5: librdkafka sends one partition per request, and at 495 events/s over 12
    # partitions 5 ms sent about one request per event; at 20 ms the broker and the publisher used ~4 and
    # ~3 points of a core less, the publish -> row p50 rose ~10 ms and the push p99 fell (3 interleaved
    # pairs: 667/651/591 against 759/659/719 ms; docs/benchmarks.md, eighth session). publish() never
    # waits for it either way.
    producer_linger_ms: int = 20
    producer_buffer_max_messages: int = 100_000
    producer_delivery_timeout_ms: int = 300_000


class FanoutSettings(ProcessorSettings):
    """Settings of ``herald run fanout``, ``scheduler`` and ``reconciler``."""

    model_config = _CONFIG

    exactly_once: bool = True
    # Twice the others' wait: each fan-out batch is a Postgres transaction and a Kafka transaction (markers
    # on every push partition), so at moderate rates half as many batches take ~10 points of the two cores
    # off the broker and the fan-out, which the push sender gets back; push p99 at 517 events/s ~800 ms
    # against ~1,200 in interleaved runs (docs/benchmarks.md, fifth session), bell rows ~25 ms later.
    batch_timeout_s: float = Field(default=0.1, gt=0)
    scheduler_interval_s: float = Field(default=5.0, gt=0)
    reconciler_interval_s: float = Field(default=60.0, gt=0)
    reconciler_grace_s: float = Field(default=300.0, ge=0)


class LagExporterSettings(KafkaSettings, MetricsSettings):
    """Settings of ``herald run lag-exporter`` and ``herald lag``: reads every group named
    ``HERALD_GROUP_PREFIX*`` from the broker every ``lag_interval_s``."""

    model_config = _CONFIG

    lag_interval_s: float = Field(default=10.0, gt=0)
    lag_probe_timeout_s: float = Field(default=5.0, gt=0)


class FcmSettings(BaseSettings):
    """Where pushes go. ``fcm_endpoint`` set: an FCM-compatible server (the emulator in ``deploy/``),
    with a do-nothing credential unless ``fcm_credentials`` names a service-account file (whose
    ``token_uri`` may point at the emulator's ``/token``). Unset: Google's FCM, with the service
    account in ``fcm_credentials`` or Application Default Credentials."""

    model_config = _CONFIG

    fcm_endpoint: str | None = None
    fcm_project_id: str = "herald-local"
    fcm_credentials: SecretStr | None = Field(default=None, description="Path of a service-account JSON file")
    fcm_transport: str = Field(default="pool", pattern="^(pool|httpx)$")
    fcm_connections: int = Field(default=48, ge=1, le=1000)
    fcm_timeout_s: float = Field(default=10.0, gt=0)


class PushSenderSettings(FetchAtFirstByte, ProcessorSettings, FcmSettings):
    """Settings of ``herald run push-sender`` (retry and token-age policy in docs/push.md)."""

    model_config = _CONFIG

    eager_batches: bool = True  # see RuntimeSettings; measured in docs/benchmarks.md (fifth session)
    push_max_attempts: int = Field(default=6, ge=1)
    push_retry_base_s: float = Field(default=2.0, gt=0)
    push_retry_cap_s: float = Field(default=600.0, gt=0)
    push_retry_poll_s: float = Field(default=0.25, gt=0)
    push_ttl_s: int = Field(default=86_400, ge=0, le=2_419_200)  # FCM's maximum TTL is 28 days
    token_max_age_days: int = Field(default=270, ge=1)
    token_prune_interval_s: float = Field(default=3600.0, gt=0)
