"""Settings of the push sender (``herald run push-sender``)."""

from __future__ import annotations

from pydantic import Field

from sinks.fcm.settings import FcmSettings
from streams.settings import HERALD_CONFIG, FetchAtFirstByte, ProcessorSettings


class PushSenderSettings(FetchAtFirstByte, ProcessorSettings, FcmSettings):
    """Settings of ``herald run push-sender`` (retry and token-age policy in docs/push.md)."""

    model_config = HERALD_CONFIG

    # docs/decisions/0032-short-batch-waits.md
    eager_batches: bool = Field(
        default=True, description="Push sender: start a batch with what is queued, or the first record to arrive"
    )
    push_max_attempts: int = Field(default=6, ge=1, description="Sends of one push before it is dead-lettered")
    push_retry_base_s: float = Field(
        default=2.0,
        gt=0,
        description="First retry delay of a transient FCM error; "
        "doubles per attempt, with jitter, at least Retry-After",
    )
    push_retry_cap_s: float = Field(default=600.0, gt=0, description="Longest retry delay, in seconds")
    push_retry_poll_s: float = Field(
        default=0.25, gt=0, description="How often due retries are re-published, in seconds"
    )
    push_ttl_s: int = Field(
        default=86_400,
        ge=0,
        le=2_419_200,  # FCM's maximum TTL is 28 days
        description="FCM time-to-live of a push, in seconds",
    )
    token_max_age_days: int = Field(
        default=270, ge=1, description="Device tokens not refreshed for this long are pruned"
    )
    token_prune_interval_s: float = Field(
        default=3600.0, gt=0, description="How often stale tokens are pruned, in seconds"
    )
