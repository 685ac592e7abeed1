"""Escalation policies: parsing (every refusal names its field), round trips, defaults and overrides."""

from __future__ import annotations

import pytest

from processors.catalogue import CLINICAL_ROLES, RecipientRule
from processors.notifications.escalation_policy import (
    DEFAULT_POLICIES,
    Acknowledgement,
    EscalationPolicy,
    PolicyError,
    policy_for,
    policy_from_json,
)

STEP = {"targets": [{"type": "practitioner"}], "wait_s": 60}


@pytest.mark.parametrize("policy", list(DEFAULT_POLICIES.values()), ids=list(DEFAULT_POLICIES))
def test_every_default_survives_a_round_trip_through_json(policy):
    assert policy_from_json(policy.to_json()) == policy


def test_a_critical_result_escalates_practitioner_then_clinicians_then_medical_directors():
    policy = DEFAULT_POLICIES["LAB_RESULT_CRITICAL"]
    assert [(s.targets[0].rule, s.targets[0].roles, s.wait_s) for s in policy.steps] == [
        (RecipientRule.PRACTITIONER, frozenset(), 300),
        (RecipientRule.CARE_TEAM, CLINICAL_ROLES, 600),
        (RecipientRule.ORGANIZATION, frozenset({"medical_director"}), 900),
    ]
    assert policy.acknowledgement == Acknowledgement.FIRST
    assert DEFAULT_POLICIES["ANNOUNCEMENT_URGENT"].acknowledgement == Acknowledgement.EACH_RECIPIENT


@pytest.mark.parametrize(
    "data, field",
    [
        pytest.param([], "policy", id="not-an-object"),
        pytest.param({"steps": [], "extra": 1}, "unknown field 'extra'", id="unknown-field"),
        pytest.param({"steps": [], "acknowledgement": "any"}, "acknowledgement", id="bad-mode"),
        pytest.param({"steps": "x"}, "steps", id="steps-not-a-list"),
        pytest.param({"steps": [STEP] * 11}, "steps", id="too-many-steps"),
        pytest.param({"steps": [{"targets": [], "wait_s": 1}]}, "steps[0].targets", id="no-targets"),
        pytest.param({"steps": [{**STEP, "wait_s": -1}]}, "steps[0].wait_s", id="negative-wait"),
        pytest.param({"steps": [{**STEP, "wait_s": 1.5}]}, "steps[0].wait_s", id="fractional-wait"),
        pytest.param({"steps": [{**STEP, "wait_s": True}]}, "steps[0].wait_s", id="boolean-wait"),
        pytest.param({"steps": [{**STEP, "wait_s": 10**9}]}, "steps[0].wait_s", id="wait-too-long"),
        pytest.param(
            {"steps": [STEP, {"targets": [{"type": "none"}], "wait_s": 1}]}, "steps[1].targets[0].type", id="rule-none"
        ),
        pytest.param(
            {"steps": [{"targets": [{"type": "everyone"}], "wait_s": 1}]}, "steps[0].targets[0].type", id="unknown-type"
        ),
        pytest.param(
            {"steps": [{"targets": [{"type": "user"}], "wait_s": 1}]},
            "steps[0].targets[0].user_id",
            id="user-without-id",
        ),
        pytest.param(
            {"steps": [{"targets": [{"type": "practitioner", "user_id": "u"}], "wait_s": 1}]},
            "steps[0].targets[0].user_id",
            id="id-on-practitioner",
        ),
        pytest.param(
            {"steps": [{"targets": [{"type": "practitioner", "roles": ["nurse"]}], "wait_s": 1}]},
            "steps[0].targets[0].roles",
            id="roles-on-practitioner",
        ),
        pytest.param(
            {"steps": [{"targets": [{"type": "care_team", "roles": [""]}], "wait_s": 1}]},
            "steps[0].targets[0].roles",
            id="empty-role",
        ),
        pytest.param(
            {"steps": [{"targets": [{"type": "user", "user_id": "u" * 65}], "wait_s": 1}]},
            "steps[0].targets[0].user_id",
            id="long-user-id",
        ),
    ],
)
def test_a_policy_that_cannot_be_acted_on_is_refused_naming_the_field(data, field):
    with pytest.raises(PolicyError, match=field.replace("[", r"\[").replace("]", r"\]")):
        policy_from_json(data)


def test_an_override_replaces_the_default_and_an_empty_one_turns_acknowledgement_off():
    named = policy_from_json({"steps": [{"targets": [{"type": "user", "user_id": "chief"}], "wait_s": 30}]})
    off = EscalationPolicy(())
    overrides = {("org1", "LAB_RESULT_CRITICAL"): named, ("org2", "LAB_RESULT_CRITICAL"): off}

    assert policy_for("org1", "LAB_RESULT_CRITICAL", overrides) == named
    assert policy_for("org2", "LAB_RESULT_CRITICAL", overrides) is None
    assert policy_for("org3", "LAB_RESULT_CRITICAL", overrides) == DEFAULT_POLICIES["LAB_RESULT_CRITICAL"]
    assert policy_for("org1", "LAB_RESULT_RECEIVED", overrides) is None


def test_an_organization_may_require_acknowledgement_of_a_type_the_catalogue_does_not():
    policy = policy_from_json({"acknowledgement": "each_step", "steps": [STEP]})
    assert policy_for("org", "REFERRAL_RECEIVED", {("org", "REFERRAL_RECEIVED"): policy}) == policy
