"""The scheduler's metrics: names fixed for deploy/, set from the held backlog it counts."""

from __future__ import annotations

from prometheus_client import REGISTRY

from processors.scheduler.metrics import on_held_counted


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_held_backlog_is_set_under_the_processor():
    on_held_counted("metrics-test", held=7, overdue=2)
    assert sample("herald_held_notifications", processor="metrics-test") == 7
    assert sample("herald_held_overdue_notifications", processor="metrics-test") == 2
