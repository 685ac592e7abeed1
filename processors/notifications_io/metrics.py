"""Metrics of the processors that fan out (the fan-out and the reconciler, told apart by ``processor``)."""
from __future__ import annotations

from processors.notifications.plan import FanoutPlan
from streams.metrics import on_fanout_planned as _counted


def on_fanout_planned(processor: str, plan: FanoutPlan) -> None:
    """Called by the fan-out and the reconciler after planning a batch."""
    _counted(processor, pushed=len(plan.pushes), held=len(plan.held), bell_only=plan.bell_only,
             unknown_types=plan.unknown_types)
