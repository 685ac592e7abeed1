"""/healthz, /readyz, /metrics, error bodies, and the process entry point."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.auth import issue_token
from api.main import create_app
from api.settings import DEV_JWT_SECRET, ApiSettings
from tests.integration.api.conftest import World

pytestmark = pytest.mark.integration


def test_metrics_label_routes_by_template_never_by_id(client, world: World):
    world.user("dr", "physician")
    client.get(f"/v1/patients/{world.uid('p-secret')}/timeline", headers=world.headers("dr", "physician"))
    text = client.get("/metrics").text
    assert 'route="/v1/patients/{patient_id}/timeline"' in text
    assert "p-secret" not in text and "herald_api_request_duration_seconds_bucket" in text


def test_unknown_path_is_a_json_404(client, world: World):
    response = client.get("/v1/nothing-here", headers=world.headers("dr"))
    assert response.status_code == 404 and response.json()["message"]


def test_unknown_v1_path_without_a_token_is_401_and_reveals_nothing(client):
    assert client.get("/v1/nothing-here").status_code == 401


def test_readyz_is_503_while_the_database_does_not_answer():
    settings = ApiSettings(env="dev", database_url="postgresql+psycopg://herald@127.0.0.1:1/herald")
    with TestClient(create_app(settings)) as unready:
        assert unready.get("/healthz").status_code == 200
        response = unready.get("/readyz")
        assert response.status_code == 503 and response.json()["message"] == "database unreachable or saturated"
        dev_token = issue_token(DEV_JWT_SECRET, user_id="u-1", organization_id="org-1", roles=["admin"])
        response = unready.get("/v1/feed", headers={"Authorization": f"Bearer {dev_token}"})
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_process_serves_and_refuses_the_dev_secret_outside_dev(database_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "HERALD_DATABASE_URL": database_url, "HERALD_API_PORT": str(port)}
    refused = subprocess.run(
        [sys.executable, "-m", "api"], env=env | {"HERALD_ENV": "prod"}, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "HERALD_API_JWT_SECRET" in refused.stderr
    log = open(tmp_path / "api.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api"], env=env | {"HERALD_ENV": "dev"}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).json() == {"status": "ready"}
                break
            except (httpx.HTTPError, AssertionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == "Herald API"
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


def test_an_unexpected_error_is_a_json_500_and_its_message_is_not_logged(api_settings, caplog):
    app = create_app(api_settings)

    name = "Mara Quill"

    def boom() -> None:
        raise RuntimeError(f"Potassium 6.9 for {name}")  # a driver error may quote a value like this

    app.add_api_route("/boom/{patient_id}", boom)
    with TestClient(app) as test_client, caplog.at_level("INFO"):
        response = test_client.get("/boom/p-12345")
    assert response.status_code == 500 and response.json() == {"message": "internal error", "errors": []}
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # not the client
    assert "RuntimeError" in logged and "/boom/{patient_id}" in logged
    assert "Mara" not in logged and "p-12345" not in logged


def test_a_saturated_process_refuses_at_once_with_retry_after_and_is_not_ready(api_settings, world: World):
    world.user("dr", "physician")
    app = create_app(api_settings)
    with TestClient(app) as test_client:
        assert test_client.get("/readyz").status_code == 200
        database = app.state.database
        database.waiting = database.queue_max  # as if that many requests were waiting for a connection
        try:
            started = time.monotonic()
            response = test_client.get("/v1/feed", headers=world.headers("dr", "physician"))
            assert response.status_code == 503 and response.headers["Retry-After"] == "1"
            assert time.monotonic() - started < 1
            ready = test_client.get("/readyz")
            assert ready.status_code == 503 and "saturated" in ready.json()["message"]
        finally:
            database.waiting = 0
        assert test_client.get("/v1/feed", headers=world.headers("dr", "physician")).status_code == 200


def test_a_pool_timeout_is_503_not_500(api_settings, world: World):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    world.user("dr", "physician")
    app = create_app(api_settings)

    def no_connection(*, session):
        raise PoolTimeout("QueuePool limit reached")

    with TestClient(app) as test_client:
        app.state.database._unit = lambda work, kwargs: no_connection(session=None)
        response = test_client.get("/v1/notifications/unread-count", headers=world.headers("dr", "physician"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
