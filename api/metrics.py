"""The API's Prometheus metrics and access log, recorded by one ASGI middleware.

Labels are the route *template* (``/v1/patients/{patient_id}/timeline``), the method and the status:
never a path with ids in it, so neither the metrics nor the access log carry a patient or user id.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processors.catalogue import CATALOGUE, RecipientRule

REQUESTS = Counter("herald_api_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "herald_api_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# Observed by the API when an acknowledgement ends an alert: the event's occurred_at to that moment.
ALERT_ACKNOWLEDGED = Histogram(
    "herald_alert_acknowledged_seconds",
    "Time from an alert's event to the acknowledgement that ended the alert",
    ["event_type"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
)
# Observed by the API when a notification is first opened (POST /v1/notifications/{id}/opened): from FCM's
# first acceptance of its push, or from its creation when it was never pushed (api.receipts.open_seconds).
OPENED = Counter("herald_notifications_opened_total", "Notifications opened by their recipient", ["event_type"])
OPEN_SECONDS = Histogram(
    "herald_notification_open_seconds",
    "Time from a notification's accepted push (else its creation) to its first open",
    ["event_type"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400),
)
for _entry in CATALOGUE.values():  # series from the start: a type's first open then shows in rate()
    if _entry.recipients is not RecipientRule.NONE:
        OPENED.labels(_entry.event_type)
        OPEN_SECONDS.labels(_entry.event_type)
log = logging.getLogger("herald.api.access")


class MetricsMiddleware:
    """Wraps the whole app; observes every HTTP request once, after the route has been matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def on_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, on_send)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    @staticmethod
    def _observe(scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        REQUESTS.labels(method, route, str(status)).inc()
        LATENCY.labels(method, route).observe(seconds)
        log.info(
            "%s %s %d",
            method,
            route,
            status,
            extra={"method": method, "route": route, "status": status, "ms": round(seconds * 1000, 2)},
        )


def metrics_endpoint() -> Response:
    """``GET /metrics``: every metric of this process in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
