"""Wiring one processor into a Runtime from settings; used by every ``processors/*/__main__``."""

from __future__ import annotations

import gc
import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from streams.checkpoint import Checkpoint, Sink
from streams.client_errors import ClientErrors, hooks_of
from streams.clients import build_consumer, build_producer
from streams.metrics import RuntimeHooks
from streams.records import DeadLetter, Message, Record
from streams.replays import for_group
from streams.runtime import LoopConfig, Processor, Runtime
from streams.settings import KafkaSettings, ProcessorSettings, RuntimeSettings
from streams.tracing import configure as configure_tracing

W = TypeVar("W")  # what the processor's batches write, and the sink takes


class MissingDeadLetterTopic(ValueError):
    """An input topic with no dead-letter topic: a wiring mistake, raised before the first poll."""


def dlq_router(settings: KafkaSettings, dead_letters: Mapping[str, str], topics: Iterable[str]) -> Callable[[str], str]:
    """Maps a full source topic name to its full dead-letter topic name, from ``dead_letters`` (base
    names: input → its dead-letter topic). Every one of ``topics`` must have one: a record that cannot
    be processed must land where its own stage's dead letters are read, never in another's."""
    missing = sorted(set(topics) - set(dead_letters))
    if missing:
        raise MissingDeadLetterTopic(f"no dead-letter topic for input topics {missing}")
    by_full = {settings.topic(base): settings.topic(dlq) for base, dlq in dead_letters.items()}
    return by_full.__getitem__


def transactional_id(settings: ProcessorSettings, group: str) -> str:
    """Stable across restarts of one replica, so a restarted replica fences (and aborts) the
    transaction its crashed predecessor left open instead of leaving it to time out while
    read-committed consumers wait. Replicas must differ: ``HERALD_INSTANCE_ID`` (the pod name)."""
    instance = settings.instance_id or socket.gethostname()
    return f"{settings.group(group)}-{instance}"


def build_runtime(
    settings: ProcessorSettings,
    *,
    processor: Processor[W],
    group: str,
    topics: list[str],
    dead_letters: Mapping[str, str],
    decode: Callable[[Message], Record | DeadLetter],
    sink: Sink[W] | None,
    transactional: bool = False,
    pipelined: bool = False,
) -> Runtime:
    """A consumer, a producer (transactional if asked), a checkpoint and the loop around them;
    ``dead_letters`` maps each of ``topics`` to its dead-letter topic (base names; one missing raises
    ``MissingDeadLetterTopic`` here); ``pipelined`` (when ``settings.pipelined`` allows it) checkpoints
    each batch on a writer thread while the next is handled."""
    route_dead_letter = dlq_router(settings, dead_letters, topics)
    consumer_errors = ClientErrors("consumer", escalated=True)  # the runtime stops on a fatal one
    consumer = build_consumer(
        settings, group, **membership(settings), **fetching(settings), **hooks_of(consumer_errors)
    )
    txn_id = transactional_id(settings, group) if transactional else None
    producer = build_producer(settings, transactional_id=txn_id)
    checkpoint = Checkpoint(
        consumer=consumer,
        producer=producer,
        sink=sink,
        dlq_topic_of=route_dead_letter,
        transactional=transactional,
        commit_interval_s=commit_interval_s(settings),
        producer_factory=lambda: build_producer(settings, transactional_id=txn_id),
        group=settings.group(group),
    )
    runtime = Runtime(
        consumer=consumer,
        topics=[settings.topic(t) for t in topics],
        decode=for_group(decode, settings.group(group)),
        processor=processor,
        checkpoint=checkpoint,
        hooks=RuntimeHooks(processor.name, settings.group(group)),
        config=loop_config(settings, pipelined=pipelined),
        client_errors=consumer_errors,
    )
    configure_tracing(f"herald-{processor.name}")  # off unless OTEL_TRACES_EXPORTER asks (streams/tracing.py)
    tune_gc(settings)
    return runtime


def loop_config(settings: RuntimeSettings, *, pipelined: bool = False) -> LoopConfig:
    """The loop's batching from the settings; ``pipelined`` is the processor's ask, which
    ``HERALD_PIPELINED=false`` overrides."""
    return LoopConfig(
        batch_max_records=settings.batch_max_records,
        batch_timeout_s=settings.batch_timeout_s,
        pipelined=pipelined and settings.pipelined,
        eager=settings.eager_batches,
        shutdown_timeout_s=settings.shutdown_timeout_s,
        stall_timeout_s=settings.stall_timeout_s,
    )


def commit_interval_s(settings: RuntimeSettings) -> float:
    """How long plain offset commits are held (``HERALD_COMMIT_INTERVAL_MS``; streams/checkpoint.py)."""
    return settings.commit_interval_ms / 1000


HEARTBEAT_MS = 1_000


def membership(settings: ProcessorSettings) -> dict[str, str | int]:
    """The consumer's group-membership settings: the session timeout (how long a dead member keeps its
    partitions) and, when ``HERALD_INSTANCE_ID`` is set, static membership: ``group.instance.id`` is
    the instance id, so a replica that restarts under the same id (a pod restarted, a SIGKILLed
    process started again) takes its partitions back at once, without a rebalance, instead of
    waiting for its old session to expire. The cost: a static member that stops for good (scale
    down) keeps its partitions until its session times out, as it sends no LeaveGroup. Unset (the
    default, e.g. several replicas on one host without ids): dynamic membership.

    Heartbeats every second (a third of the session at most): a member learns that its group is
    rebalancing only from a heartbeat's answer, and a cooperative rebalance (a replica joining or
    leaving) takes two rounds, so each round lasts up to one interval with partitions unowned
    (docs/decisions/0022-static-membership-and-heartbeats.md). One small request a second per consumer
    is nothing to the broker."""
    config: dict[str, str | int] = {
        "session.timeout.ms": settings.session_timeout_ms,
        "heartbeat.interval.ms": min(HEARTBEAT_MS, settings.session_timeout_ms // 3),
    }
    if settings.instance_id:
        config["group.instance.id"] = settings.instance_id
    return config


def fetching(settings: RuntimeSettings) -> dict[str, int]:
    """When the broker answers the consumer's fetch (``RuntimeSettings.fetch_min_bytes`` and
    ``fetch_wait_max_ms``): per processor, because it depends on how the input is written."""
    return {"fetch.min.bytes": settings.fetch_min_bytes, "fetch.wait.max.ms": settings.fetch_wait_max_ms}


GC_YOUNG_THRESHOLD = 10_000


def tune_gc(settings: RuntimeSettings) -> None:
    """Called once a processor is built (``build_runtime``, ``processors.periodic.run_periodic``) unless
    ``settings.gc_tuning`` is false: ``gc.freeze()`` moves everything alive now (modules, schemas,
    clients) out of the collector's reach, and young collections run every ``GC_YOUNG_THRESHOLD``
    allocations instead of 700. A batch allocates hundreds of thousands of short-lived containers
    (decoded records, rows, an announcement's 10,000 recipients), which refcounting frees; with the
    defaults each batch also paid for collections that walked the whole start-up heap, a large share of
    an announcement's planning, encoding and loading (docs/decisions/0018-gc-tuning.md). Cyclic garbage
    is still collected, later."""
    if not settings.gc_tuning:
        return
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def configure_logging() -> None:
    """Called first in every ``__main__``: one JSON object per line to stderr (``streams.logs``), with
    ``extra`` ids such as event_id / notification_id as keys; ``HERALD_LOG_FORMAT=text`` for a terminal.
    Ids only, never PHI (the loop logs no payloads)."""
    from streams.logs import JsonFormatter

    handler = logging.StreamHandler()
    if os.environ.get("HERALD_LOG_FORMAT", "json") == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=os.environ.get("HERALD_LOG_LEVEL", "INFO"), handlers=[handler], force=True)
    logging.captureWarnings(True)  # warnings become records too: stderr stays one JSON object per line
