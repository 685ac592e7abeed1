"""The HTTP endpoint of every Herald process: ``/metrics``, ``/healthz`` (liveness), ``/readyz`` (readiness).

Prometheus scrapes ``/metrics``; an orchestrator restarts a process whose ``/healthz`` fails and stops
counting on one whose ``/readyz`` fails. One tiny threaded stdlib server per process, started from its
``__main__`` before the loop, on the process's own port: ``HERALD_METRICS_PORT`` when set, else the
default port its ``__main__`` passes (processors/registry.py lists them); 0 turns it off (how tests
that start many processes avoid clashes).

A check is a callable returning ``Check``; one that raises counts as failed. Liveness is the loop's
heartbeat (``RuntimeHooks.on_loop``); readiness is a claim about progress: no fatal client, batches
not failing in a row, no partition behind without progress, partitions held (or records got
recently), and the database answers.
"""

from __future__ import annotations

import errno
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from streams.metrics import RuntimeHooks
from streams.ports import in_use_message
from streams.settings import ProcessorSettings

if TYPE_CHECKING:  # the database probe is optional: a process without one never imports SQLAlchemy here
    from sqlalchemy.engine import Engine

log = logging.getLogger("herald.health")

EXIT_PORT_IN_USE = 78  # EX_CONFIG: restarting cannot help until the port is freed or moved


@dataclass(frozen=True)
class Check:
    """One probe's verdict; ``detail`` is shown in the endpoint's JSON body (never PHI)."""

    ok: bool
    detail: str = "ok"


Probe = Callable[[], Check]


def run_checks(probes: dict[str, Probe]) -> tuple[bool, dict[str, str]]:
    """Runs every probe; a probe that raises fails with its exception's type and message."""
    results: dict[str, str] = {}
    ok = True
    for name, probe in probes.items():
        try:
            check = probe()
        except Exception as exc:  # a probe must never take the endpoint down
            check = Check(False, f"{type(exc).__name__}: {exc}"[:300])
        ok = ok and check.ok
        results[name] = check.detail
    return ok, results


class _Handler(BaseHTTPRequestHandler):
    live: dict[str, Probe] = {}
    ready: dict[str, Probe] = {}
    registry: CollectorRegistry = REGISTRY

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.registry))
        elif path in ("/healthz", "/readyz"):
            ok, results = run_checks(self.live if path == "/healthz" else self.ready)
            body = json.dumps({"status": "ok" if ok else "failing", "checks": results}).encode()
            self._send(200 if ok else 503, "application/json", body)
        else:
            self._send(404, "text/plain", b"not found: try /metrics, /healthz, /readyz\n")

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # scrapes every few seconds: not worth a log line
        pass


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one port, served from a daemon thread."""

    def __init__(
        self,
        port: int,
        *,
        live: dict[str, Probe],
        ready: dict[str, Probe],
        registry: CollectorRegistry = REGISTRY,
        host: str = "0.0.0.0",
    ) -> None:
        handler = type("HealthHandler", (_Handler,), {"live": live, "ready": ready, "registry": registry})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> HealthServer:
        threading.Thread(target=self._httpd.serve_forever, name="herald-health", daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def serve_process(
    process: str,
    port: int | None,
    *,
    default_port: int,
    live: dict[str, Probe] | None = None,
    ready: dict[str, Probe] | None = None,
) -> HealthServer | None:
    """Called once from a process's ``__main__`` before its loop. ``port`` (the setting) None means
    ``default_port``, 0 means no server. Failing to bind ends the process (a misconfigured port must not go
    unseen): a port already taken with exit code ``EXIT_PORT_IN_USE`` and a line naming the pid that holds it."""
    port = default_port if port is None else port
    if not port:
        return None
    try:
        server = HealthServer(port, live=live or {}, ready=ready or {}).start()
    except OSError as exc:  # another process holds the port: say which, in one line, and stop
        if exc.errno != errno.EADDRINUSE:
            raise
        message = in_use_message(port, "HERALD_METRICS_PORT")
        log.error(message, extra={"component": process, "port": port})
        raise SystemExit(EXIT_PORT_IN_USE) from None
    log.info("serving /metrics, /healthz, /readyz", extra={"component": process, "port": server.port})
    return server


def serve_consumer(
    process: str, settings: ProcessorSettings, hooks: RuntimeHooks, *, default_port: int, engine: Engine | None = None
) -> HealthServer | None:
    """The endpoint of a consumer-group processor: live while its loop turns, ready while it holds
    partitions (or got records lately) and, given an ``engine``, while the database answers."""
    ready = {
        "consumer": consumer_ready(
            hooks, stall_timeout_s=settings.stall_timeout_s, max_failed_batches=settings.ready_max_failed_batches
        )
    }
    if engine is not None:
        ready["database"] = database_answers(engine)
    return serve_process(
        process,
        settings.metrics_port,
        default_port=default_port,
        live={"loop": heartbeat_within(lambda: hooks.last_loop_at, settings.liveness_timeout_s)},
        ready=ready,
    )


def heartbeat_within(
    last_beat: Callable[[], float | None], max_silence_s: float, clock: Callable[[], float] = time.monotonic
) -> Probe:
    """Live while ``last_beat()`` (a monotonic time, None before the first) is at most ``max_silence_s``
    old; before the first beat, the probe's creation counts as one (start-up grace)."""
    created = clock()

    def probe() -> Check:
        silent = clock() - (last_beat() or created)
        if silent > max_silence_s:
            return Check(False, f"loop silent for {silent:.0f}s (limit {max_silence_s:.0f}s)")
        return Check(True, f"loop turned {silent:.1f}s ago")

    return probe


def consumer_ready(
    hooks: RuntimeHooks,
    recent_s: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    *,
    stall_timeout_s: float,
    max_failed_batches: int,
) -> Probe:
    """Ready while the consumer makes progress (RuntimeHooks state): not when a Kafka client failed
    fatally, when ``max_failed_batches`` batches failed in a row (its partitions are paused between
    retries), or when a partition is behind and has had no batch done for ``stall_timeout_s``; else
    while it holds partitions or got records within ``recent_s``. The two limits are settings
    (``RuntimeSettings.stall_timeout_s``, ``MetricsSettings.ready_max_failed_batches``): no default here."""

    def probe() -> Check:
        if hooks.fatal:
            return Check(False, f"Kafka client failed fatally: {hooks.fatal}")
        if hooks.failing >= max_failed_batches:
            return Check(False, f"{hooks.failing} batches failed in a row; last: {hooks.last_failure}"[:300])
        stalled = hooks.stalled(stall_timeout_s, clock())
        if stalled:
            names = ", ".join(f"{t}[{p}]" for t, p in stalled[:5])
            return Check(
                False, f"{len(stalled)} partitions behind with no progress for {stall_timeout_s:.0f}s: {names}"
            )
        if hooks.assigned > 0:
            return Check(True, f"{hooks.assigned} partitions assigned")
        if hooks.last_records_at is not None and clock() - hooks.last_records_at <= recent_s:
            return Check(True, "records polled recently")
        return Check(False, "no partitions assigned and no records polled recently")

    return probe


def database_answers(engine: Engine) -> Probe:
    """Ready while ``SELECT 1`` answers on the pool of ``engine`` (a SQLAlchemy Engine)."""
    from sqlalchemy import text

    def probe() -> Check:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return Check(True)

    return probe
