"""Writes docs/settings.md from the settings classes: ``python -m cli.settings_doc > docs/settings.md``.

The page is generated, not written by hand, so that a setting cannot be added, renamed or given a new
default without the page following: tests/unit/test_settings_doc.py fails when the committed page differs
from what this module prints. Each section lists the fields a class declares itself (name, default,
``Field(description=...)``); a process's settings class is the union of the sections it is built from.
"""

from __future__ import annotations

import inspect
import sys
from enum import Enum
from types import ModuleType

from pydantic_settings import BaseSettings

from api import settings as api_settings
from processors.directory import settings as directory_settings
from processors.escalator import settings as escalator_settings
from processors.fanout import settings as fanout_settings
from processors.lag_exporter import settings as lag_exporter_settings
from processors.lifecycle import settings as lifecycle_settings
from processors.outbox_relay import settings as outbox_relay_settings
from processors.persister import settings as persister_settings
from processors.push import settings as push_settings
from processors.reconciler import settings as reconciler_settings
from processors.scheduler import settings as scheduler_settings
from sinks.fcm import settings as fcm_settings
from sinks.postgres import settings as postgres_settings
from streams import settings as stream_settings

SETTINGS_MODULES: tuple[ModuleType, ...] = (
    stream_settings,
    persister_settings,
    directory_settings,
    fanout_settings,
    scheduler_settings,
    escalator_settings,
    reconciler_settings,
    push_settings,
    fcm_settings,
    lag_exporter_settings,
    outbox_relay_settings,
    api_settings,
    postgres_settings,
    lifecycle_settings,
)

# (class, section title, which processes read it), in the order a reader meets them.
SECTIONS: tuple[tuple[type[BaseSettings], str, str], ...] = (
    (stream_settings.KafkaSettings, "Kafka", "every process and the producer SDK"),
    (stream_settings.PostgresSettings, "Postgres", "every process that reads or writes the database, the API"),
    (stream_settings.MetricsSettings, "Health and metrics", "every processor and the lag exporter"),
    (
        stream_settings.RuntimeSettings,
        "Consumer runtime",
        "persister, directory, fan-out, push sender, scheduler, escalator, reconciler",
    ),
    (stream_settings.ProcessorSettings, "Every consumer-group processor", "the processors above"),
    (
        stream_settings.FetchAtFirstByte,
        "Fetch at the first byte",
        "push sender and directory (overrides the runtime's fetch)",
    ),
    (persister_settings.PersisterSettings, "Persister", "`herald run persister`"),
    (fanout_settings.FanoutSettings, "Fan-out", "`herald run fanout`"),
    (scheduler_settings.SchedulerSettings, "Scheduler", "`herald run scheduler`"),
    (escalator_settings.EscalatorSettings, "Escalator", "`herald run escalator`"),
    (reconciler_settings.ReconcilerSettings, "Reconciler", "`herald run reconciler`"),
    (push_settings.PushSenderSettings, "Push sender", "`herald run push-sender`"),
    (fcm_settings.FcmSettings, "FCM", "push sender"),
    (stream_settings.ProducerSettings, "Producer SDK", "`emit_activity_event`, `ActivityPublisher`, `herald produce`"),
    (lag_exporter_settings.LagExporterSettings, "Lag exporter", "`herald run lag-exporter`, `herald lag`"),
    (outbox_relay_settings.OutboxRelaySettings, "Outbox relay", "`herald run outbox-relay` (docs/outbox.md)"),
    (api_settings.ApiSettings, "Read API", "`herald run api`"),
    (
        postgres_settings.DataLifecycleSettings,
        "Partitions and retention",
        "`herald partitions maintain`, `herald retention run`; the API (how far back it shows each organization)",
    ),
    (
        lifecycle_settings.LifecycleSettings,
        "Lifecycle",
        "`herald run lifecycle` (and the partition and retention settings)",
    ),
)

# Read with os.environ where a settings class would be overkill (logging is set up before any settings
# object exists; the local stack's paths are the CLI's own). Kept here so the page lists them too.
ENVIRONMENT_ONLY: tuple[tuple[str, str, str], ...] = (
    ("HERALD_LOG_LEVEL", "INFO", "Log level of every process (streams/app.py)"),
    ("HERALD_LOG_FORMAT", "json", "json (one object a line) or text (for a terminal)"),
    ("HERALD_CACHE_DIR", "~/.cache/herald", "`herald dev up`: where Kafka's downloaded jars are kept"),
    ("HERALD_STATE_DIR", "~/.local/state/herald", "`herald dev up`: data, logs and pid files of the local stack"),
    ("HERALD_FCM_EMULATOR_PORT", "9099", "`herald dev up`: port of the local FCM emulator"),
)


def settings_classes() -> list[type[BaseSettings]]:
    """Every settings class defined in the settings modules (the test checks each has a section)."""
    found = []
    for module in SETTINGS_MODULES:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseSettings) and obj is not BaseSettings and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def own_fields(cls: type[BaseSettings]) -> list[str]:
    """Fields the class declares itself (overrides included), in declaration order."""
    return [name for name in cls.__dict__.get("__annotations__", {}) if name in cls.model_fields]


def env_name(field: str) -> str:
    return f"HERALD_{field.upper()}"


def show_default(value: object) -> str:
    if value is None or value == "":
        return "unset"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def section(cls: type[BaseSettings], title: str, used_by: str) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"Read by {used_by} (`{cls.__module__}.{cls.__name__}`).",
        "",
        "| setting | default | meaning |",
        "|---|---|---|",
    ]
    for name in own_fields(cls):
        info = cls.model_fields[name]
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `{env_name(name)}` | {show_default(info.default)} | {description} |")
    return [*lines, ""]


def render() -> str:
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `python -m cli.settings_doc > docs/settings.md`; do not edit by hand. -->",
        "",
        "Every setting is an environment variable named `HERALD_<FIELD>` (case-insensitive), read once at",
        "start-up. A process's settings are the union of the sections below that it is built from; where a",
        "later section repeats a setting, its default wins for that process (the persister's batch size,",
        "the fan-out's batch timeout, the push sender's eager batches and fetch).",
        "",
    ]
    for cls, title, used_by in SECTIONS:
        lines.extend(section(cls, title, used_by))
    lines.extend(["## Read outside the settings classes", "", "| setting | default | meaning |", "|---|---|---|"])
    lines.extend(f"| `{name}` | `{default}` | {meaning} |" for name, default, meaning in ENVIRONMENT_ONLY)
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
