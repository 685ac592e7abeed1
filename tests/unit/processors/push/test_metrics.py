"""The push sender's hooks record each alert's first accepted push once, in seconds from its event."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from prometheus_client import REGISTRY

from processors.notifications.escalation_policy import DEFAULT_POLICIES
from processors.push.metrics import PushHooks
from sinks.postgres.push import FirstAccepted

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def sample(name: str, event_type: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"event_type": event_type, **labels}) or 0.0


def test_first_accepted_pushes_are_observed_per_event_type_in_seconds_from_the_event():
    event_type = f"TEST_{uuid.uuid4().hex[:8].upper()}"  # a fresh label: the registry is the process's
    alerts = [
        FirstAccepted(uuid.uuid4(), event_type, NOW - timedelta(seconds=12), NOW),
        FirstAccepted(uuid.uuid4(), event_type, NOW - timedelta(seconds=40), NOW),
        FirstAccepted(uuid.uuid4(), event_type, NOW + timedelta(seconds=3), NOW),  # producer's clock ahead: 0
    ]

    PushHooks().on_first_accepted(alerts)

    name = "herald_alert_first_push_accepted_seconds"
    assert sample(f"{name}_count", event_type) == 3
    assert sample(f"{name}_sum", event_type) == 52
    assert sample(f"{name}_bucket", event_type, le="1.0") == 1
    assert sample(f"{name}_bucket", event_type, le="15.0") == 2
    assert sample(f"{name}_bucket", event_type, le="60.0") == 3


def test_every_type_with_a_default_policy_has_its_series_before_its_first_alert():
    name = "herald_alert_first_push_accepted_seconds_count"
    assert DEFAULT_POLICIES and all(
        REGISTRY.get_sample_value(name, {"event_type": t}) is not None for t in DEFAULT_POLICIES
    )
