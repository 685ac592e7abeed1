"""Settings of the persister (``herald run persister``)."""

from __future__ import annotations

from pydantic import Field

from streams.settings import HERALD_CONFIG, ProcessorSettings


class PersisterSettings(ProcessorSettings):
    """Settings of ``herald run persister``."""

    model_config = HERALD_CONFIG

    persist_strategy: str = Field(
        default="copy",
        pattern="^(copy|staging|executemany)$",
        description="How rows are written: copy (key lookup, then binary COPY of new "
        "rows), staging (COPY into a staging table + INSERT ON CONFLICT), executemany",
    )
    # Larger than the other processors' 5,000: the persister's per-batch work (offset commit, key lookup,
    # Postgres commit) is its only fixed cost; a trickle still goes out every batch_timeout_s
    # (docs/decisions/0017-persister-batch-size.md).
    batch_max_records: int = Field(default=20_000, ge=1, description="Most records in one persister batch")
