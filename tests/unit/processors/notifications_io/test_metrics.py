"""The fan-out's metrics: names fixed for deploy/, counted from the plan."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from prometheus_client import REGISTRY

from processors.notifications.directory import Directory, DirectoryUser
from processors.notifications.plan import plan_batch
from processors.notifications_io.metrics import on_fanout_planned
from streams.messages import ActivityEvent

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_plan_is_counted_by_push_action_and_unknown_type_under_the_processor():
    directory = Directory.of([DirectoryUser(f"u{i}", "org") for i in range(3)])
    events = [
        ActivityEvent(
            event_id=uuid.uuid4(), event_type=t, occurred_at=NOW, organization_id="org", title="t", notify=True
        )
        for t in ("ANNOUNCEMENT_URGENT", "IMMUNIZATION_RECORDED")
    ]
    plan = plan_batch(events, directory, {}, NOW)
    before = {
        push: sample("herald_fanout_notifications_total", processor="metrics-test", push=push)
        for push in ("now", "held", "none")
    }
    unknown = sample("herald_unknown_event_types_total", processor="metrics-test")

    on_fanout_planned("metrics-test", plan)

    assert {
        push: sample("herald_fanout_notifications_total", processor="metrics-test", push=push) - before[push]
        for push in before
    } == {"now": 3, "held": 0, "none": 0}
    assert sample("herald_unknown_event_types_total", processor="metrics-test") - unknown == 1
