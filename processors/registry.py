"""Every Herald process, listed once: what ``herald run NAME`` starts, which consumer group it joins,
what it reads and writes, where it serves /metrics, and which settings class configures it.

The CLI (``herald run``, ``herald run all``, ``herald demo``), each process's default metrics port, the
Prometheus scrape config (``python -m cli.scrape_config``), the process table of docs/operations.md
(``python -m cli.process_table``) and the tests that start the pipeline read this table; adding a
process here is what makes it runnable, scraped and documented.

It sits in ``processors/`` rather than ``cli/`` because each processor's ``__main__`` reads its own
entry (its default port, its dead-letter topics) and processors do not import the CLI. The API's
settings class lives in ``api/``, above this layer, so settings classes are named by import path here
and loaded by the CLI (``cli.processes.settings_class``).
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.topics import ACTIVITY, ACTIVITY_DLQ, DIRECTORY, DLQ_OF, PUSH


@dataclass(frozen=True)
class Process:
    """One process of the pipeline. Topics are base names (``KafkaSettings.topic`` adds the prefix);
    ``group`` is the consumer group's base name, None for a process that joins no group."""

    name: str  # herald run NAME; the Prometheus job is herald-NAME
    module: str  # python -m MODULE
    group: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]  # topics it produces to, the dead letters of its inputs not included
    port: int  # default port of /metrics, /healthz, /readyz
    settings: str  # "module:Class" of its settings class
    replicas: str  # how many may run at once, and what bounds it (docs/operations.md)
    port_setting: str = "HERALD_METRICS_PORT"  # the environment variable that moves ``port``
    in_demo: bool = True  # started by ``herald demo``

    @property
    def consumer_group(self) -> str:
        """``group`` of a process that joins one (its ``__main__`` builds a runtime); raises for others."""
        if self.group is None:
            raise ValueError(f"{self.name} joins no consumer group")
        return self.group

    @property
    def dead_letters(self) -> dict[str, str]:
        """Input topic → its dead-letter topic (base names), what ``streams.app.build_runtime`` routes by."""
        return {topic: DLQ_OF[topic] for topic in self.inputs}


PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process(
            "persister",
            "processors.persister",
            "persister",
            (ACTIVITY,),
            (),
            9301,
            "processors.persister.settings:PersisterSettings",
            "up to 12 (activity partitions)",
        ),
        Process(
            "directory",
            "processors.directory",
            "directory",
            (DIRECTORY,),
            (),
            9302,
            "processors.directory.settings:DirectorySettings",
            "1–3 (directory partitions)",
        ),
        Process(
            "fanout",
            "processors.fanout",
            "fanout",
            (ACTIVITY,),
            (PUSH,),
            9303,
            "processors.fanout.settings:FanoutSettings",
            "up to 12 (activity partitions)",
        ),
        # Its retries go back on the push topic (processors/push/retries.py).
        Process(
            "push-sender",
            "processors.push",
            "push-sender",
            (PUSH,),
            (PUSH,),
            9304,
            "processors.push.settings:PushSenderSettings",
            "up to 6 (push partitions)",
        ),
        # Periodic jobs over the database: no consumer group, no input topic.
        Process(
            "scheduler",
            "processors.scheduler",
            None,
            (),
            (PUSH,),
            9305,
            "processors.scheduler.settings:SchedulerSettings",
            "any (advisory locks split the users)",
        ),
        # Fires urgent alerts' escalation steps from the alert_steps timers (processors/escalator/app.py).
        Process(
            "escalator",
            "processors.escalator",
            None,
            (),
            (PUSH,),
            9307,
            "processors.escalator.settings:EscalatorSettings",
            "any (`SKIP LOCKED` splits the alerts)",
        ),
        # It dead-letters events it cannot fan out (processors/reconciler/app.py:event_dead_letter).
        Process(
            "reconciler",
            "processors.reconciler",
            None,
            (),
            (PUSH, ACTIVITY_DLQ),
            9306,
            "processors.reconciler.settings:ReconcilerSettings",
            "any (`SKIP LOCKED` splits the events)",
            in_demo=False,
        ),
        Process(
            "lag-exporter",
            "processors.lag_exporter",
            None,
            (),
            (),
            9308,
            "processors.lag_exporter.settings:LagExporterSettings",
            "1",
            in_demo=False,
        ),
        # Reads an EMR's transactional outbox (its own database, HERALD_OUTBOX_DATABASE_URL; docs/outbox.md).
        Process(
            "outbox-relay",
            "processors.outbox_relay",
            None,
            (),
            (ACTIVITY,),
            9309,
            "processors.outbox_relay.settings:OutboxRelaySettings",
            "any (advisory locks split the keys)",
            in_demo=False,
        ),
        # Creates the months ahead and applies retention (docs/data-lifecycle.md); a second replica skips
        # its ticks while the first holds the upkeep lock, so one is all there is to run.
        Process(
            "lifecycle",
            "processors.lifecycle",
            None,
            (),
            (),
            9310,
            "processors.lifecycle.settings:LifecycleSettings",
            "1",
            in_demo=False,
        ),
        # The API serves /metrics, /healthz and /readyz on its own HTTP port.
        Process("api", "api", None, (), (), 8080, "api.settings:ApiSettings", "any", port_setting="HERALD_API_PORT"),
    )
}
