"""A fan-out plan as the Postgres sink's writes (the fan-out's batch outcome, the reconciler's pass)."""

from __future__ import annotations

from processors.notifications.plan import FanoutPlan
from sinks.postgres.activity_rows import event_row
from sinks.postgres.notifications import FanoutWrites


def writes_of(plan: FanoutPlan) -> FanoutWrites:
    """The plan's notifications as they are, and its marked events as activity rows: the fan-out may
    see an event before the persister, so the mark upserts the whole row the persister would write."""
    return FanoutWrites(events=[event_row(e) for e in plan.marked], bell=plan.bell, held=plan.held, alerts=plan.alerts)
