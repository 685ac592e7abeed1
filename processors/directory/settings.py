"""Settings of the directory processor (``herald run directory``)."""

from __future__ import annotations

from streams.settings import HERALD_CONFIG, FetchAtFirstByte, ProcessorSettings


class DirectorySettings(FetchAtFirstByte, ProcessorSettings):
    """Settings of ``herald run directory``."""

    model_config = HERALD_CONFIG
