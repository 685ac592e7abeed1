"""The escalator's metrics: a type with no open alerts left reads 0, exhaustion is not a step."""

from __future__ import annotations

from prometheus_client import REGISTRY

from processors.escalator.metrics import on_alerts_counted, on_timer_fired


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_type_whose_alerts_all_closed_reads_zero_not_its_last_count():
    on_alerts_counted({"UNIT_TYPE_A": 3, "UNIT_TYPE_B": 1}, {"UNIT_TYPE_A": 2})
    on_alerts_counted({"UNIT_TYPE_B": 1}, {})

    assert value("herald_alerts_open", event_type="UNIT_TYPE_A") == 0
    assert value("herald_alerts_unacknowledged_overdue", event_type="UNIT_TYPE_A") == 0
    assert value("herald_alerts_open", event_type="UNIT_TYPE_B") == 1


def test_the_exhaustion_check_counts_as_exhausted_and_in_the_delay_but_not_as_a_step():
    steps = value("herald_escalation_steps_total", event_type="UNIT_TYPE_C", step="2")
    delays = value("herald_escalation_step_delay_seconds_count", event_type="UNIT_TYPE_C")

    on_timer_fired("UNIT_TYPE_C", 2, 0.4, ["inactive", "actor"], exhausted=False)
    on_timer_fired("UNIT_TYPE_C", 3, 75.0, [], exhausted=True)

    assert value("herald_escalation_steps_total", event_type="UNIT_TYPE_C", step="2") == steps + 1
    assert value("herald_escalation_steps_total", event_type="UNIT_TYPE_C", step="3") == 0
    assert value("herald_alerts_exhausted_total", event_type="UNIT_TYPE_C") == 1
    assert value("herald_escalation_step_delay_seconds_count", event_type="UNIT_TYPE_C") == delays + 2
    assert value("herald_escalation_step_delay_seconds_bucket", event_type="UNIT_TYPE_C", le="60.0") == 1


def test_the_catalogues_steps_read_zero_before_any_fires():
    from processors.escalator.metrics import declare
    from processors.notifications.escalation_policy import DEFAULT_POLICIES

    declare({"UNIT_TYPE_D": DEFAULT_POLICIES["LAB_RESULT_CRITICAL"]})

    assert REGISTRY.get_sample_value("herald_escalation_steps_total", {"event_type": "UNIT_TYPE_D", "step": "2"}) == 0
    assert (
        REGISTRY.get_sample_value("herald_escalation_steps_total", {"event_type": "UNIT_TYPE_D", "step": "3"}) is None
    )
    assert REGISTRY.get_sample_value("herald_alerts_exhausted_total", {"event_type": "UNIT_TYPE_D"}) == 0
