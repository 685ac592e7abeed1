"""Authorization matrix: who gets which status, and which rows, from every endpoint.

The feed query is ``processors.visibility.can_see`` in SQL; here the pure rule is the oracle, row by
row, for every visibility class x patient relation x actor, and every role.
"""

from __future__ import annotations

import itertools
import time
import uuid

import jwt
import pytest

from processors.visibility import FeedEvent, Viewer, ViewerFacts, can_access_patient, can_see
from tests.integration.api.conftest import SECRET, World, at, bearer, token

pytestmark = pytest.mark.integration

V1_CALLS = [
    ("GET", "/v1/feed", None),
    ("GET", "/v1/patients/p-1/timeline", None),
    ("GET", "/v1/notifications", None),
    ("GET", "/v1/notifications/unread-count", None),
    ("POST", f"/v1/notifications/{uuid.UUID(int=1)}/read", None),
    ("POST", "/v1/notifications/read-all", None),
    ("GET", "/v1/preferences", None),
    (
        "PUT",
        "/v1/preferences",
        {"push_enabled": True, "email_enabled": False, "enabled_types": [], "min_push_priority": "HIGH"},
    ),
    ("POST", "/v1/devices", {"token": "tok-1", "platform": "ios"}),
    ("DELETE", "/v1/devices/tok-1", None),
]


def _call(client, method, path, body, headers):
    return client.request(method, path, json=body, headers=headers)


def _forged(claims: dict, key: str = SECRET, algorithm: str = "HS256") -> dict:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}


def _claims(**overrides) -> dict:
    now = int(time.time())
    return {"sub": "u-1", "org": "org-x", "roles": ["admin"], "iat": now, "exp": now + 600} | overrides


BAD_CREDENTIALS = {
    "no-header": {},
    "not-bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "garbage": {"Authorization": "Bearer not.a.jwt"},
    "bad-signature": _forged(_claims(), key="some-other-secret-of-enough-length-0000"),
    "expired": _forged(_claims(exp=int(time.time()) - 3600)),
    "no-exp": _forged({k: v for k, v in _claims().items() if k != "exp"}),
    "no-org": _forged({k: v for k, v in _claims().items() if k != "org"}),
    "roles-not-a-list": _forged(_claims(roles="admin")),
    "alg-none": {"Authorization": "Bearer " + jwt.encode(_claims(), None, algorithm="none")},
    "other-hmac-alg": _forged(_claims(), algorithm="HS512"),
}


@pytest.mark.parametrize("method, path, body", V1_CALLS, ids=[f"{m} {p}" for m, p, _ in V1_CALLS])
@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
def test_every_v1_call_needs_a_valid_token(client, method, path, body, credentials):
    response = _call(client, method, path, body, BAD_CREDENTIALS[credentials])
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["message"]


def test_health_needs_no_token(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("method, path, body", V1_CALLS, ids=[f"{m} {p}" for m, p, _ in V1_CALLS])
def test_a_deactivated_user_is_refused_with_a_valid_token(client, world: World, method, path, body):
    world.user("gone", "physician", active=False)
    response = _call(client, method, path, body, world.headers("gone", "physician"))
    assert response.status_code == 403


def test_a_token_naming_another_organization_than_the_directory_is_refused(client, world: World):
    other = World(world.db)
    world.user("moved", "admin", org=other.org)
    assert client.get("/v1/feed", headers=world.headers("moved", "admin")).status_code == 403


def test_a_user_the_directory_does_not_know_yet_sees_only_organization_wide_rows(client, world: World):
    public = world.event("ANNOUNCEMENT", visibility="all_members")
    world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1")
    response = client.get("/v1/feed", headers=world.headers("newcomer", "physician"))
    assert [item["event_id"] for item in response.json()["items"]] == [str(public)]


# --- the visibility matrix ---------------------------------------------------------------------------

ROLES = {
    "dr": ("physician",),
    "nurse": ("nurse",),
    "lead": ("nurse",),
    "desk": ("front_desk",),
    "admin": ("admin",),
    "md": ("medical_director",),
    "billing": ("billing",),
    "nobody": (),
    "mixed": ("physician", "front_desk"),
}
TEAMS = {"dr": {"p-on"}, "nurse": {"p-on"}, "mixed": {"p-off"}}
SUPERVISEES = {"lead": {"nurse"}}
VISIBILITIES = ["all_members", "clinical_staff", "actor_and_supervisors", "board_only", None]
PATIENTS = [None, "p-on", "p-off"]
ACTORS = [None, "nurse", "dr"]


@pytest.fixture
def matrix(world: World):
    """Every visibility x patient x actor as one event, a minute apart, plus the same patient ids in
    another organization (whose rows must never show)."""
    world.user("lead", *ROLES["lead"])
    for name, roles in ROLES.items():
        if name != "lead":
            world.user(name, *roles, supervisor="lead" if name == "nurse" else None)
    world.user("former", "nurse")
    for name, patients in TEAMS.items():
        for patient in patients:
            world.on_team(patient, name)
    world.on_team("p-off", "former", active=False)
    events = {}
    for i, (vis, patient, actor) in enumerate(itertools.product(VISIBILITIES, PATIENTS, ACTORS)):
        event_id = world.event("SOMETHING", visibility=vis, patient=patient, actor=actor, at=at(i))
        events[event_id] = FeedEvent(
            world.org, vis, world.uid(actor) if actor else None, world.uid(patient) if patient else None
        )
    elsewhere = World(world.db)
    for patient in ("p-on", "p-off"):
        world.event("SOMETHING", visibility="all_members", patient=patient, org=elsewhere.org, at=at(1000))
    world.event("ANNOUNCEMENT", visibility="all_members", org=elsewhere.org, at=at(1001))
    return events


def _viewer(world: World, name: str) -> tuple[Viewer, ViewerFacts]:
    facts = ViewerFacts(
        frozenset(world.uid(p) for p in TEAMS.get(name, ())), frozenset(world.uid(u) for u in SUPERVISEES.get(name, ()))
    )
    return Viewer(world.uid(name), world.org, frozenset(ROLES.get(name, ()))), facts


def _expected(events: dict, viewer: Viewer, facts: ViewerFacts, patient: str | None = None) -> list[str]:
    chosen = [
        (e.patient_id, i)
        for i, e in events.items()
        if can_see(e, viewer, facts) and (patient is None or e.patient_id == patient)
    ]
    return sorted(str(i) for _, i in chosen)


@pytest.mark.parametrize("name", [*ROLES, "former"])
def test_feed_shows_exactly_what_the_visibility_rule_allows(client, world: World, matrix, name):
    viewer, facts = _viewer(world, name)
    response = client.get("/v1/feed?limit=200", headers=world.headers(name, *viewer.roles))
    assert response.status_code == 200
    items = response.json()["items"]
    assert sorted(item["event_id"] for item in items) == _expected(matrix, viewer, facts)
    assert all(item["event_id"] in {str(i) for i in matrix} for item in items)  # nothing of the other org
    times = [item["occurred_at"] for item in items]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("name", [*ROLES, "former"])
@pytest.mark.parametrize("patient", ["p-on", "p-off"])
def test_timeline_is_404_unless_the_patient_is_accessible(client, world: World, matrix, name, patient):
    viewer, facts = _viewer(world, name)
    response = client.get(
        f"/v1/patients/{world.uid(patient)}/timeline?limit=200", headers=world.headers(name, *viewer.roles)
    )
    if not can_access_patient(world.uid(patient), viewer, facts):
        assert response.status_code == 404
        assert response.json() == {"message": "patient not found", "errors": []}
        return
    assert response.status_code == 200
    got = sorted(item["event_id"] for item in response.json()["items"])
    assert got == _expected(matrix, viewer, facts, patient=world.uid(patient))


def test_another_organizations_patient_is_404_like_an_unknown_one(client, world: World, matrix):
    outsider = World(world.db)
    outsider.user("admin", "admin")
    for patient_id in (world.uid("p-on"), world.uid("no-such-patient")):
        response = client.get(f"/v1/patients/{patient_id}/timeline", headers=outsider.headers("admin", "admin"))
        assert response.status_code == 404
        assert response.json() == {"message": "patient not found", "errors": []}
    feed = client.get("/v1/feed?limit=200", headers=outsider.headers("admin", "admin")).json()["items"]
    assert feed == []


# --- the bell, preferences and devices of other users ------------------------------------------------


def test_another_users_notification_is_404_and_stays_unread(client, world: World):
    world.user("dr", "physician")
    world.user("nurse", "nurse")
    theirs = world.notification("nurse", world.event(patient="p-1"))
    assert client.post(f"/v1/notifications/{theirs}/read", headers=world.headers("dr", "physician")).status_code == 404
    response = client.post(
        "/v1/notifications/read-all", json={"up_to": str(theirs)}, headers=world.headers("dr", "physician")
    )
    assert response.status_code == 404
    assert world.scalar("SELECT read_at FROM user_notifications WHERE notification_id = :n", n=theirs) is None
    assert client.get("/v1/notifications", headers=world.headers("dr", "physician")).json()["items"] == []


def test_the_same_user_id_in_another_organization_sees_no_notifications(client, world: World):
    world.notification("dr", world.event(patient="p-1"))  # dr is not (yet) in the directory
    response = client.get("/v1/notifications/unread-count", headers=bearer(world.uid("dr"), "org-elsewhere"))
    assert response.json()["count"] == 0
    assert client.get("/v1/notifications/unread-count", headers=world.headers("dr")).json()["count"] == 1


def test_the_bell_hides_the_event_title_of_a_patient_no_longer_accessible(client, world: World):
    world.user("dr", "physician")
    world.on_team("p-1", "dr")
    event = world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1", title="Potassium for Mara")
    world.notification("dr", event, patient="p-1")
    headers = world.headers("dr", "physician")
    item = client.get("/v1/notifications", headers=headers).json()["items"][0]
    assert (item["title"], item["event_title"]) == ("New lab result", "Potassium for Mara")
    world.on_team("p-1", "dr", active=False)
    item = client.get("/v1/notifications", headers=headers).json()["items"][0]
    assert (item["title"], item["event_title"]) == ("New lab result", None)


def test_another_users_device_cannot_be_unbound(client, world: World):
    world.user("a", "nurse")
    world.user("b", "nurse")
    device = f"tok-{uuid.uuid4().hex}"
    assert (
        client.post(
            "/v1/devices", json={"token": device, "platform": "android"}, headers=world.headers("a", "nurse")
        ).status_code
        == 200
    )
    assert client.delete(f"/v1/devices/{device}", headers=world.headers("b", "nurse")).status_code == 404
    assert world.scalar("SELECT retired_at FROM device_tokens WHERE token = :t", t=device) is None


def test_preferences_are_per_user(client, world: World):
    world.user("a", "nurse")
    world.user("b", "nurse")
    body = {
        "push_enabled": False,
        "email_enabled": True,
        "enabled_types": ["TASK_ASSIGNED"],
        "min_push_priority": "LOW",
    }
    assert client.put("/v1/preferences", json=body, headers=world.headers("a", "nurse")).status_code == 200
    assert client.get("/v1/preferences", headers=world.headers("b", "nurse")).json()["stored"] is False


def test_token_from_a_different_secret_is_401_even_with_the_right_claims(client, world: World):
    world.user("dr", "physician")
    forged = token(world.uid("dr"), world.org, "admin", secret="an-attacker-secret-of-enough-length-00")
    assert client.get("/v1/feed", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
