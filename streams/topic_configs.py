"""Existing topics brought to the configs their specs give (``herald topics sync``).

``create_topics`` leaves an existing topic as it is; a topic created before a spec changed (or edited
by hand) keeps its old retention until ``herald topics sync`` sets the spec's values with
``incremental_alter_configs``: only the keys a spec names, one SET each, so a config Herald does not
manage (``min.insync.replicas``, tiered storage's ``remote.storage.enable``) is never touched.

A change that makes the broker delete records sooner (a shorter ``retention.ms``, ``retention.bytes``
or ``delete.retention.ms``, or another ``cleanup.policy``) deletes them for good, so sync refuses it
unless asked explicitly (``allow_shorter``); partition counts are never changed here (more partitions
move keys to other partitions and break the per-patient order).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from streams.settings import KafkaSettings
from streams.topics import TopicSpec

ADMIN_TIMEOUT_S = 10.0
# Keys whose smaller value (or any other value, for cleanup.policy) removes records sooner. -1 is
# "no limit" for the retention keys.
_SHORTENING = frozenset({"retention.ms", "retention.bytes", "delete.retention.ms", "local.retention.ms"})


@dataclass(frozen=True)
class ConfigChange:
    """One key of one topic whose value differs from its spec's."""

    key: str
    current: str | None
    wanted: str

    @property
    def deletes_sooner(self) -> bool:
        """Whether applying it lets the broker remove records it would otherwise keep."""
        if self.key == "cleanup.policy":
            return self.current is not None and self.current != self.wanted
        if self.key not in _SHORTENING or self.current is None:
            return False
        return _limit(self.wanted) < _limit(self.current)


@dataclass
class SyncReport:
    """Per topic (full name): the changes applied, the ones refused (they would delete sooner), and
    the topics that do not exist (``herald topics create`` makes them)."""

    applied: dict[str, list[ConfigChange]] = field(default_factory=dict)
    refused: dict[str, list[ConfigChange]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def _limit(value: str) -> float:
    number = int(value)
    return float("inf") if number < 0 else float(number)


def config_drift(
    admin: AdminClient, settings: KafkaSettings, specs: list[TopicSpec]
) -> tuple[dict[str, list[ConfigChange]], list[str]]:
    """The keys of each existing topic whose value differs from its spec's (topics without any
    left out), and the spec topics that do not exist."""
    existing = set(admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics)
    present = [s for s in specs if settings.topic(s.base) in existing]
    missing = [settings.topic(s.base) for s in specs if settings.topic(s.base) not in existing]
    if not present:
        return {}, missing
    resources = [ConfigResource(ResourceType.TOPIC, settings.topic(s.base)) for s in present]
    futures = admin.describe_configs(resources, request_timeout=ADMIN_TIMEOUT_S)
    current = {resource.name: future.result(2 * ADMIN_TIMEOUT_S) for resource, future in futures.items()}
    drift = {}
    for spec in present:
        name = settings.topic(spec.base)
        entries = current[name]
        changes = [
            ConfigChange(key, entries[key].value if key in entries else None, wanted)
            for key, wanted in spec.config.items()
            if key not in entries or entries[key].value != wanted
        ]
        if changes:
            drift[name] = changes
    return drift, missing


def sync_topic_configs(
    admin: AdminClient,
    settings: KafkaSettings,
    specs: list[TopicSpec],
    *,
    allow_shorter: bool = False,
    dry_run: bool = False,
) -> SyncReport:
    """Sets each existing topic's differing keys to its spec's values (see the module doc); returns
    what it did. Raises KafkaException when the broker refuses an alteration."""
    drift, missing = config_drift(admin, settings, specs)
    report = SyncReport(missing=missing)
    for name, changes in drift.items():
        todo = [c for c in changes if allow_shorter or not c.deletes_sooner]
        refused = [c for c in changes if c not in todo]
        if refused:
            report.refused[name] = refused
        if todo:
            report.applied[name] = todo
    if dry_run or not report.applied:
        return report
    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(c.key, c.wanted, incremental_operation=AlterConfigOpType.SET) for c in changes
            ],
        )
        for name, changes in report.applied.items()
    ]
    futures = admin.incremental_alter_configs(resources, request_timeout=ADMIN_TIMEOUT_S)
    for future in futures.values():
        future.result(2 * ADMIN_TIMEOUT_S)
    return report
