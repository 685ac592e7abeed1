"""Fakes for unit tests of the runtime and processors (dramatiq ``StubBroker``, Bytewax ``TestingSource``).

Integration tests use the real Kafka and Postgres; these exist so that the commit order, the
rewind on failure and the processors' decisions can be tested without services. Every fake
appends what it was asked to do to a shared ``journal`` so tests can assert the order of steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from confluent_kafka import TopicPartition

if TYPE_CHECKING:
    from streams.runtime import LoopConfig


@dataclass
class FakeMessage:
    """A consumed message as confluent_kafka.Message presents it."""

    _topic: str
    _partition: int
    _offset: int
    _value: bytes | None
    _key: bytes | None = None
    _headers: list[tuple[str, bytes]] | None = None
    _timestamp_ms: int = 0
    _error: Any = None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp_ms)

    def error(self) -> Any:
        return self._error


@dataclass
class FakeConsumer:
    """Hands out prepared batches; records commits, seeks, pauses and resumes."""

    batches: list[list[FakeMessage]]
    journal: list[tuple[Any, ...]] = field(default_factory=list)
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    high_watermarks: dict[tuple[str, int], int] = field(default_factory=dict)
    on_empty: Any = None  # called when the batches run out (e.g. runtime.stop)
    closed: bool = False
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset to fetch, per partition

    def subscribe(
        self,
        topics: list[str],
        on_assign: Callable[..., None] | None = None,
        on_revoke: Callable[..., None] | None = None,
        on_lost: Callable[..., None] | None = None,
    ) -> None:
        partitions = sorted({(m.topic(), m.partition()) for b in self.batches for m in b})
        if on_assign:
            on_assign(self, [TopicPartition(t, p) for t, p in partitions])

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[FakeMessage]:
        if not self.batches:
            if self.on_empty:
                self.on_empty()
            return []
        batch = self.batches.pop(0)
        for m in batch:
            self.positions[(m.topic(), m.partition())] = m.offset() + 1
        return batch

    def commit(self, offsets: Sequence[TopicPartition] = (), asynchronous: bool = True) -> None:
        self.journal.append(("commit", [(tp.topic, tp.partition, tp.offset) for tp in offsets]))
        for tp in offsets:
            self.committed[(tp.topic, tp.partition)] = tp.offset

    def seek(self, tp: TopicPartition) -> None:
        self.journal.append(("seek", (tp.topic, tp.partition, tp.offset)))
        self.positions[(tp.topic, tp.partition)] = tp.offset

    def position(self, tps: list[TopicPartition]) -> list[TopicPartition]:
        return [
            TopicPartition(tp.topic, tp.partition, self.positions.get((tp.topic, tp.partition), -1001)) for tp in tps
        ]

    def pause(self, tps: list[TopicPartition]) -> None:
        self.journal.append(("pause", [(tp.topic, tp.partition) for tp in tps]))

    def resume(self, tps: list[TopicPartition]) -> None:
        self.journal.append(("resume", [(tp.topic, tp.partition) for tp in tps]))

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        return (0, self.high_watermarks.get((tp.topic, tp.partition), -1))

    def consumer_group_metadata(self) -> str:
        return "group-metadata"

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeProducer:
    """Records produced records; ``fail_delivery`` makes every delivery report an error; ``failures``
    maps a method name (``commit_transaction`` …) to the exceptions its next calls raise, in order."""

    journal: list[tuple[Any, ...]] = field(default_factory=list)
    produced: list[tuple[str, bytes | None, bytes | None, Any]] = field(default_factory=list)
    fail_delivery: bool = False
    failures: dict[str, list[Exception]] = field(default_factory=dict)
    _pending: list[tuple[Callable[[Any, FakeMessage], None] | None, FakeMessage]] = field(default_factory=list)

    def _maybe_fail(self, call: str) -> None:
        queued = self.failures.get(call)
        if queued:
            raise queued.pop(0)

    def produce(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Any = None,
        on_delivery: Callable[[Any, FakeMessage], None] | None = None,
    ) -> None:
        self.journal.append(("produce", topic))
        self.produced.append((topic, key, value, headers))
        self._pending.append((on_delivery, FakeMessage(topic, 0, len(self.produced) - 1, value, key, headers)))

    def poll(self, timeout: float = 0) -> int:
        return self._deliver()

    def flush(self, timeout: float | None = None) -> int:
        self.journal.append(("flush",))
        self._deliver()
        return 0

    def _deliver(self) -> int:
        pending, self._pending = self._pending, []
        for callback, msg in pending:
            if callback:
                callback("delivery failed" if self.fail_delivery else None, msg)
        return len(pending)

    def begin_transaction(self) -> None:
        self.journal.append(("begin_transaction",))
        self._maybe_fail("begin_transaction")

    def send_offsets_to_transaction(
        self, offsets: list[TopicPartition], metadata: Any, timeout: float | None = None
    ) -> None:
        self.journal.append(("send_offsets", [(tp.topic, tp.partition, tp.offset) for tp in offsets]))
        self._maybe_fail("send_offsets_to_transaction")

    def commit_transaction(self, timeout: float | None = None) -> None:
        self.journal.append(("commit_transaction",))
        self._maybe_fail("commit_transaction")

    def abort_transaction(self, timeout: float | None = None) -> None:
        self.journal.append(("abort_transaction",))
        self._maybe_fail("abort_transaction")

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        self.journal.append(("purge",))
        self._pending.clear()


@dataclass
class ListSink:
    """Keeps every written batch; ``fail_with`` makes the next write raise it; ``reject`` (item -> an
    exception or None) makes every write that holds a rejected item raise, like a database refusing a row."""

    journal: list[tuple[Any, ...]] = field(default_factory=list)
    batches: list[Any] = field(default_factory=list)
    fail_with: Exception | None = None
    reject: Callable[[Any], Exception | None] | None = None

    def write(self, batch: Any) -> None:
        self.journal.append(("sink.write", len(batch)))
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        reject = self.reject
        if reject is not None:
            for item in batch:
                refused = reject(item)
                if refused is not None:
                    raise refused
        self.batches.append(batch)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def default_loop_config(**changes: Any) -> LoopConfig:
    """The loop a process gets from the default settings (``streams.app.loop_config(RuntimeSettings())``),
    with ``changes``: tests change the knob they are about and take every other default from the one
    place it is written."""
    from streams.app import loop_config
    from streams.settings import RuntimeSettings

    return replace(loop_config(RuntimeSettings()), **changes)
