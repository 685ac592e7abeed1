"""The lag exporter's broker clients, built together and replaced together.

- an AdminClient for group listings and descriptions, topic metadata and log offsets (calls that do
  not fetch group offsets: an AdminClient's offset fetch can crash the process, see streams/admin.py);
- one offset reader per group (a consumer whose ``group.id`` is that group and that never subscribes)
  for its committed offsets;
- the group-less reader that reads the record at a group's position (assign + seek only).
"""
from __future__ import annotations

import logging
from typing import Callable

from confluent_kafka.admin import AdminClient

from streams.admin import group_offset_reader
from streams.clients import build_admin, build_consumer
from streams.settings import KafkaSettings

log = logging.getLogger("herald.lag_exporter")
READER_GROUP_ID = "herald.lag-exporter.reader"  # never joins nor commits, so it never shows as a group


def build_reader(settings: KafkaSettings):
    """The group-less consumer that reads the record at a group's position (assign + seek only)."""
    return build_consumer(settings, "lag-exporter-reader", **{
        "group.id": READER_GROUP_ID, "enable.partition.eof": True, "fetch.wait.max.ms": 50,
        "max.partition.fetch.bytes": 65536, "queued.max.messages.kbytes": 1024})


class BrokerClients:
    """``admin``, ``reader`` and ``offsets(group)``; ``close()`` closes every consumer."""

    def __init__(self, admin: AdminClient, reader, offset_reader: Callable[[str], object]) -> None:
        self.admin = admin
        self.reader = reader
        self._offset_reader = offset_reader
        self._offset_readers: dict[str, object] = {}

    @classmethod
    def from_settings(cls, settings: KafkaSettings) -> BrokerClients:
        return cls(build_admin(settings), build_reader(settings), lambda group: group_offset_reader(settings, group))

    def offsets(self, group: str):
        """The offset reader of ``group``, built at first use and kept until ``close``."""
        if group not in self._offset_readers:
            self._offset_readers[group] = self._offset_reader(group)
        return self._offset_readers[group]

    def close(self) -> None:
        """Closes the consumers; the AdminClient is released with its last reference (it has no close)."""
        for consumer in [self.reader, *self._offset_readers.values()]:
            try:
                consumer.close()
            except Exception as exc:  # noqa: BLE001 - a wedged client must not keep its replacement out
                log.warning("closing a lag exporter client failed: %s", type(exc).__name__)
        self._offset_readers.clear()
        self.admin = None
