"""The escalation policy body: the policy module decides, the document describes the same shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.alert_schemas import PolicyBody, effective_policies
from api.errors import FieldInvalid
from processors.notifications.escalation_policy import DEFAULT_POLICIES


def test_a_policy_error_names_its_field():
    with pytest.raises(FieldInvalid) as caught:
        PolicyBody.model_validate({"steps": [{"targets": [{"type": "user"}], "wait_s": 5}]})
    assert caught.value.field == "steps[0].targets[0].user_id"


def test_a_whole_number_written_as_a_float_is_a_whole_number():
    body = PolicyBody.model_validate({"steps": [{"targets": [{"type": "practitioner"}], "wait_s": 60.0}]})
    assert body.policy().steps[0].wait_s == 60


def test_what_the_policy_module_takes_but_the_database_refuses_is_refused():
    with pytest.raises(ValidationError):
        PolicyBody.model_validate({"steps": [{"targets": [{"type": "user", "user_id": "a\x00b"}], "wait_s": 5}]})


def test_the_body_round_trips_to_the_policy():
    data = {
        "acknowledgement": "each_step",
        "steps": [
            {"targets": [{"type": "care_team", "roles": ["nurse"]}, {"type": "user", "user_id": "u"}], "wait_s": 9}
        ],
    }
    assert PolicyBody.model_validate(data).policy().to_json() == data


class _Row:
    def __init__(self, event_type, policy):
        self.event_type, self.policy, self.updated_by, self.updated_at = event_type, policy, "admin", None


def test_effective_policies_prefer_a_parsable_override():
    listed = effective_policies([_Row("LAB_RESULT_CRITICAL", {"steps": []}), _Row("ANNOUNCEMENT_URGENT", {"bad": 1})])
    by_type = {p.event_type: p for p in listed.items}
    assert set(by_type) == set(DEFAULT_POLICIES)
    assert by_type["LAB_RESULT_CRITICAL"].source == "override"
    assert by_type["LAB_RESULT_CRITICAL"].requires_acknowledgement is False
    assert by_type["ANNOUNCEMENT_URGENT"].source == "default"
