"""What kind of failure an exception is, decided where the runtime catches it.

* ``TRANSIENT``: the world, not the records (connection lost, broker unavailable, serialization
  failure, deadlock, a timeout). The batch is rewound and retried with backoff; nothing is dead-lettered.
* ``DATA``: the records themselves (SQLSTATE classes 22 and 23, a driver's DataError or IntegrityError:
  a value over a column's limit, a NUL character). Retrying cannot help: the batch is narrowed down to
  the offending records, which are dead-lettered with the database's message, and the rest is written.
* ``FATAL``: a Kafka client that cannot go on (``KafkaError.fatal()``): the client is recreated, or the
  process exits non-zero for its supervisor to restart it.
* ``UNKNOWN``: anything else (a bug a strange record trips over). Retried like a transient error; when
  it repeats on the same records the batch is narrowed down as for a data error.

The module knows no driver: it reads the PEP 249 class names (``DataError``, ``IntegrityError``,
``OperationalError``, ``InterfaceError``), a ``sqlstate`` attribute (psycopg) and librdkafka's
``KafkaError`` flags, along the exception's chain (SQLAlchemy wraps the driver's error in ``orig``).
"""

from __future__ import annotations

from enum import Enum
from typing import Iterator

from confluent_kafka import KafkaError, KafkaException

from streams.errors import ProduceFailed, ServiceUnavailable, SinkBackpressure


class Failure(str, Enum):
    TRANSIENT = "transient"
    DATA = "data"
    FATAL = "fatal"
    UNKNOWN = "unknown"


DATA_SQLSTATE_CLASSES = ("22", "23")  # data exception, integrity constraint violation
_DATA_NAMES = frozenset({"DataError", "IntegrityError"})
_TRANSIENT_NAMES = frozenset({"OperationalError", "InterfaceError", "TimeoutError", "PoolTimeout"})
_TRANSIENT_TYPES = (ProduceFailed, ServiceUnavailable, SinkBackpressure, ConnectionError, TimeoutError)


def classify(exc: BaseException) -> Failure:
    """The kind of ``exc`` (see the module doc); the first decisive link of its chain wins."""
    for link in _chain(exc):
        kafka = kafka_error(link)
        if kafka is not None:
            return _kafka_kind(kafka)
        state = getattr(link, "sqlstate", None)
        if isinstance(state, str) and state:
            return Failure.DATA if state[:2] in DATA_SQLSTATE_CLASSES else Failure.TRANSIENT
        names = {cls.__name__ for cls in type(link).__mro__}
        if names & _DATA_NAMES:
            return Failure.DATA
        if names & _TRANSIENT_NAMES or isinstance(link, _TRANSIENT_TYPES):
            return Failure.TRANSIENT
    return Failure.UNKNOWN


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The ``KafkaError`` a ``KafkaException`` carries, else None."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def _kafka_kind(err: KafkaError) -> Failure:
    return Failure.FATAL if err.fatal() else Failure.TRANSIENT


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        link = orig if isinstance(orig, BaseException) else (link.__cause__ or link.__context__)
