"""Herald's error hierarchy: one base class, one line per leaf (dramatiq ``errors.py``)."""


class HeraldError(Exception):
    """Base class of every error Herald raises on purpose."""


class InvalidEvent(HeraldError, ValueError):
    """An event breaks the contract of its schema; it is refused at the call or dead-lettered on read."""


class DecodeError(HeraldError):
    """Bytes on a topic are not a record Herald can read (framing, unknown schema, corrupt body)."""


class ProduceFailed(HeraldError):
    """The broker did not acknowledge every record of a batch; the batch is redone, offsets stay put."""


class SinkBackpressure(HeraldError):
    """A sink asks the runtime to pause and retry the same batch after ``retry_after`` seconds."""

    def __init__(self, retry_after: float, reason: str = "") -> None:
        super().__init__(reason or f"retry after {retry_after:.1f}s")
        self.retry_after = retry_after


class ClientFatal(HeraldError):
    """A Kafka client failed fatally; ``recoverable``: the next attempt builds a new one, else the process must exit."""

    def __init__(self, reason: str, *, recoverable: bool = True) -> None:
        super().__init__(reason)
        self.recoverable = recoverable


class ServiceUnavailable(HeraldError):
    """A service the process needs (Kafka, Postgres) did not answer in time."""


def reason_line(exc: BaseException) -> str:
    """The first line of an error's text, for logs: a database driver's later lines quote SQL, its
    parameters and rows (``DETAIL: Failing row contains …``), which can hold PHI."""
    return str(exc).split("\n", 1)[0]
