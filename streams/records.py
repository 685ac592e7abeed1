"""The values that flow through the runtime: decoded records, outputs, dead letters, outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

W = TypeVar("W")  # what a processor's batch writes to its sink (a rows value of the sink's own)


class Message(Protocol):
    """What the runtime needs of a consumed message (confluent_kafka.Message or a test fake)."""

    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def error(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Record:
    """A decoded, validated message; ``value`` is None for a tombstone."""

    value: Any
    message: Message


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that cannot be processed, with why; it goes to the dead-letter topic as it came."""

    reason: str
    error_type: str
    message: Message
    headers: tuple[tuple[str, bytes], ...] = ()  # extra headers, e.g. the push DLQ's FCM error code and attempts


@dataclass(frozen=True, slots=True)
class Output:
    """A record to produce."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None = None


@dataclass(slots=True)
class Outcome(Generic[W]):
    """What a processor decided for one batch; the runtime carries it out.

    ``writes`` goes to the processor's sink (``streams.checkpoint.Sink[W]``) in one transaction (None:
    nothing to write); ``outputs`` and ``dead_letters`` are produced; then offsets are committed.
    """

    writes: W | None = None
    outputs: list[Output] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message this consumer group leaves alone (a replay addressed to another group, streams/replays.py):
    neither handled nor dead-lettered; its offset commits with the batch, as the runtime commits every
    message it polled."""

    message: Message
