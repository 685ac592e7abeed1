"""A Kafka client's repeated errors as one line when they start and one when they end, plus a counter.

During a broker outage librdkafka reports every failed reconnect of every client twice (a ``FAIL`` log
line and an error event), ~20 ERROR lines a second per process, for as long as the outage lasts: the
lines that matter (the first, and when it was over) drown. ``ClientErrors`` is what a client config
points at: its ``error_cb`` and its ``logger`` (librdkafka's log lines). The first error of an episode is
logged ("broker unreachable: …"); the rest are only counted, in ``herald_kafka_client_errors_total``
{client, code} and for the closing line, logged when the client's statistics show a broker up again
("broker reachable again after 36 s, 712 errors (…)"). Fatal errors are never held back. Log lines
of librdkafka that are not about reaching brokers pass through unchanged.

A fatal error (``KafkaError.fatal()``: a consumer fenced by a newer member with its ``group.instance.id``,
an idempotent producer that lost its sequence) is kept in ``fatal``. librdkafka reports some of them
only here, never on a message or a call, so whoever owns the client must look: the runtime does, for
its consumer, and stops the process (``streams.runtime.EXIT_FATAL``). A ``ClientErrors`` built with
``escalated=True`` leaves the one log line to that owner, which says the process is stopping.

docs/decisions/0111-client-errors-once-per-outage.md
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from typing import Any, Callable

from confluent_kafka import KafkaError
from prometheus_client import Counter as PromCounter

CLIENT_ERRORS = PromCounter(
    "herald_kafka_client_errors_total",
    "Errors a Kafka client reported (error callback and librdkafka log lines), by client "
    "kind and librdkafka error code or log facility",
    ["client", "code"],
)
STATS_INTERVAL_MS = 5000  # how soon after a broker is back the closing line comes; the stats cost is per interval

# librdkafka log facilities that report a broker connection failing (rdkafka_broker.c).
CONNECTION_FACILITIES = frozenset({"FAIL", "ERROR", "BROKERFAIL", "REQTMOUT", "TIMEOUT", "DISCONNECT", "CONNECT"})
_LIBRDKAFKA_LOG = logging.getLogger("herald.librdkafka")


class ClientErrors:
    """One client's error episodes. Thread-safe: librdkafka's callbacks come on whichever thread polls."""

    def __init__(
        self,
        client: str,
        *,
        log: logging.Logger = _LIBRDKAFKA_LOG,
        clock: Callable[[], float] = time.monotonic,
        escalated: bool = False,
    ) -> None:
        self.client = client
        self.fatal: str | None = None  # the first fatal error reported: "<code>: <text>"
        self._escalated = escalated
        self._log, self._clock = log, clock
        self._lock = threading.Lock()
        self._since: float | None = None  # start of the episode under way
        self._codes: Counter[str] = Counter()

    @property
    def unreachable(self) -> bool:
        return self._since is not None

    def error(self, code: str, text: str, *, fatal: bool = False) -> None:
        """One error of this client: logged if it opens an episode (or is fatal), else counted."""
        CLIENT_ERRORS.labels(self.client, code).inc()
        if fatal:
            with self._lock:
                first = self.fatal is None
                if first:
                    self.fatal = f"{code}: {text}"
            if first and not self._escalated:  # later ones repeat it (librdkafka logs it and calls back)
                self._log.critical("%s: fatal Kafka client error %s: %s", self.client, code, text)
            return
        with self._lock:
            opens = self._since is None
            if opens:
                self._since = self._clock()
            self._codes[code] += 1
        if opens:
            self._log.error(
                "%s: broker unreachable: %s (%s); further errors are counted until it is back", self.client, text, code
            )

    def reachable(self) -> None:
        """A broker answers again: closes the episode with one line (nothing when there was none)."""
        with self._lock:
            if self._since is None:
                return
            took, codes = self._clock() - self._since, self._codes
            self._since, self._codes = None, Counter()
        detail = ", ".join(f"{code} {n}" for code, n in codes.most_common())
        self._log.warning(
            "%s: broker reachable again after %.0f s, %d errors (%s)", self.client, took, sum(codes.values()), detail
        )

    # -- what librdkafka calls ---------------------------------------------------------------------

    def error_cb(self, err: KafkaError) -> None:
        """confluent-kafka's ``error_cb``: a ``KafkaError``."""
        self.error(err.name(), err.str(), fatal=is_fatal(err))

    def stats_cb(self, stats_json: str) -> None:
        """confluent-kafka's ``stats_cb``, every ``STATS_INTERVAL_MS``: used only to see brokers up again."""
        if self._since is None:
            return
        try:
            brokers = json.loads(stats_json).get("brokers", {})
        except ValueError:
            return
        if any(b.get("state") == "UP" for b in brokers.values()):
            self.reachable()

    def log(self, level: int, msg: str, *args: Any) -> None:
        """confluent-kafka's ``logger``: called as ``log(level, "%s [%s] %s", facility, client name, text)``."""
        facility = args[0] if len(args) == 3 else None
        if facility == "FATAL":  # librdkafka raised a fatal error: said once, by ``error`` or the owner
            self.error("_FATAL", str(args[2]), fatal=True)
            return
        if level >= logging.WARNING and facility in CONNECTION_FACILITIES:
            self.error(facility, str(args[2]))
            return
        self._log.log(level, msg, *args)


def is_fatal(err: KafkaError) -> bool:
    """Whether a ``KafkaError`` is fatal: flagged so, or the generic ``_FATAL`` code with which librdkafka
    hands a fatal error to the consumer's poll (that copy of the error is not flagged ``fatal()``)."""
    return bool(err.fatal()) or err.code() == KafkaError._FATAL


def client_hooks(client: str) -> dict[str, Any]:
    """The config entries that route a client's errors and log lines through a ``ClientErrors``."""
    return hooks_of(ClientErrors(client))


def hooks_of(errors: ClientErrors) -> dict[str, Any]:
    """The config entries that route a client's errors and log lines through ``errors``."""
    return {
        "logger": errors,
        "error_cb": errors.error_cb,
        "stats_cb": errors.stats_cb,
        "statistics.interval.ms": STATS_INTERVAL_MS,
    }
