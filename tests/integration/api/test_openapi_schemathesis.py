"""Schemathesis against ``/openapi.json`` with a valid token and every check it has: no 5xx; every
response (status, content type, headers, body) is one the document declares; data the document
allows is accepted and data it forbids refused (so the document states every rule the server
enforces); unsupported methods are 405 with a correct Allow; a request without the token is refused.
Bounded: a few examples per operation."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
import schemathesis.specs.openapi.checks  # noqa: F401 - registers the OpenAPI checks
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as REGISTERED

from api.main import create_app
from api.settings import ApiSettings
from tests.integration.api.conftest import World, bearer

pytestmark = pytest.mark.integration
CHECKS = REGISTERED.get_all()
ORG = f"org-{uuid.uuid4().hex[:12]}"  # known before the rows exist: schemathesis asks for the token first


@pytest.fixture(scope="module")
def world_with_rows(db):
    """An organization with rows the generated requests can page through."""
    world = World(db, org=ORG)
    world.user("admin", "admin")
    for _ in range(5):
        event = world.event("LAB_RESULT_RECEIVED", visibility="clinical_staff", patient="p-1")
        world.notification("admin", event, patient="p-1")
    return world


# The document is the code's, so an app that never touches a database serves it at collection time;
# the calls go to the session's app (``app=api_app``), whose database only exists once fixtures ran.
_DOCUMENT_ONLY = create_app(ApiSettings(env="dev", database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
schema = schemathesis.openapi.from_asgi("/openapi.json", _DOCUMENT_ONLY)


# Derandomized: the same cases every run. A random run can draw a "negative" case that is not one on the
# wire (a boolean for a string query parameter arrives as the string "false", which the document
# allows), and CI must not fail on the draw.
@schema.auth()
class Bearer:
    """The token of the rows' admin, as schemathesis' own auth: a negative case that leaves the
    Authorization header out is then sent without it, not with a token the test adds back."""

    def get(self, case, context):
        return bearer(f"{ORG}-admin", ORG, "admin")["Authorization"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": data}


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_document(case, api_app, world_with_rows):
    case.call_and_validate(checks=CHECKS, app=api_app)
