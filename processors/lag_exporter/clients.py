"""The lag exporter's broker clients, built together and replaced together.

- an AdminClient for group listings, topic metadata and log offsets: none of them goes to a group
  coordinator, whose admin calls can crash the process (streams/admin.py, describer.py);
- a child process describing the groups (state, members, assignment): describer.py;
- one offset reader per group (a consumer whose ``group.id`` is that group and that never subscribes)
  for its committed offsets;
- the group-less reader that reads the record at a group's position (assign + seek only).
"""

from __future__ import annotations

import logging
from typing import Callable

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from processors.lag_exporter.broker import GroupInfo
from processors.lag_exporter.describer import GroupDescriber
from streams.admin import group_offset_reader
from streams.clients import build_admin, build_consumer
from streams.settings import KafkaSettings

log = logging.getLogger("herald.lag_exporter")
READER_GROUP_ID = "herald.lag-exporter.reader"  # never joins nor commits, so it never shows as a group


def build_reader(settings: KafkaSettings) -> Consumer:
    """The group-less consumer that reads the record at a group's position (assign + seek only)."""
    return build_consumer(
        settings,
        "lag-exporter-reader",
        **{
            "group.id": READER_GROUP_ID,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 50,
            "max.partition.fetch.bytes": 65536,
            "queued.max.messages.kbytes": 1024,
        },
    )


class BrokerClients:
    """``admin``, ``reader``, ``offsets(group)`` and ``describe_groups``; ``close()`` closes them all."""

    def __init__(
        self,
        admin: AdminClient,
        reader: Consumer,
        offset_reader: Callable[[str], Consumer],
        describer: Callable[[], GroupDescriber],
    ) -> None:
        self.admin = admin
        self.reader = reader
        self._offset_reader = offset_reader
        self._offset_readers: dict[str, Consumer] = {}
        self._new_describer = describer
        self._describer: GroupDescriber | None = None

    @classmethod
    def from_settings(cls, settings: KafkaSettings, timeout_s: float) -> BrokerClients:
        return cls(
            build_admin(settings),
            build_reader(settings),
            lambda group: group_offset_reader(settings, group),
            lambda: GroupDescriber(settings.kafka_bootstrap, timeout_s),
        )

    def serve_callbacks(self) -> None:
        """Serves the error, log and statistics callbacks of the clients that never consume: librdkafka
        queues them until a poll, so without one they pile up for the process's life."""
        self.admin.poll(0)
        for consumer in self._offset_readers.values():
            consumer.poll(0)

    def describe_groups(self, groups: list[str]) -> dict[str, GroupInfo]:
        """State, members and assigned topics per group, from the describe process (a new one after a
        failed one). Raises DescribeFailed."""
        if not groups:
            return {}
        if self._describer is not None and self._describer.broken:
            self._describer.close()
            self._describer = None
        if self._describer is None:
            self._describer = self._new_describer()
        return self._describer.describe(groups)

    def offsets(self, group: str) -> Consumer:
        """The offset reader of ``group``, built at first use and kept until ``close``."""
        if group not in self._offset_readers:
            self._offset_readers[group] = self._offset_reader(group)
        return self._offset_readers[group]

    def close(self) -> None:
        """Closes the consumers; the AdminClient is released with this object, its last holder (it has no close)."""
        for consumer in [self.reader, *self._offset_readers.values()]:
            try:
                consumer.close()
            except Exception as exc:  # noqa: BLE001 - a wedged client must not keep its replacement out
                log.warning("closing a lag exporter client failed: %s", type(exc).__name__)
        self._offset_readers.clear()
        if self._describer is not None:
            self._describer.close()
            self._describer = None
