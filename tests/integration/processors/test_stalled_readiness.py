"""A partition that cannot make progress turns the processor's /readyz red and sets
herald_partition_stalled, and both recover by themselves once it can (real persister, Kafka, Postgres).

The database refuses this test's events with an error that is not a data error (a trigger raising
SQLSTATE P0001), so the persister retries them with backoff: alive, but stuck.
"""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, text

from cli.processes import wait_until
from cli.produce import demo_event_list
from tests.integration.helpers import lag, publish_events, start
from tests.ports import free_port

pytestmark = pytest.mark.integration


def readyz(port: int) -> tuple[int, str]:
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    except httpx.HTTPError as exc:
        return 0, str(exc)
    return answer.status_code, answer.text


def stalled_series(port: int) -> list[str]:
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return []
    return [
        line for line in body.splitlines() if line.startswith("herald_partition_stalled{") and line.endswith(" 1.0")
    ]


@pytest.fixture
def refused_source(pipeline):
    """A source name whose events the database refuses until the fixture's ``release()`` is called."""
    source = f"stall-{uuid.uuid4().hex[:8]}"
    function = f"refuse_{source.replace('-', '_')}"
    engine = create_engine(pipeline.settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.source = '{source}' THEN RAISE EXCEPTION 'not now' USING ERRCODE = 'P0001'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER {function} BEFORE INSERT ON activity_events FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
        )

    def release() -> None:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {function} ON activity_events"))
            conn.execute(text(f"DROP FUNCTION IF EXISTS {function}()"))

    yield source, release
    release()
    engine.dispose()


def test_given_a_partition_that_cannot_progress_then_readyz_fails_and_recovers(pipeline, tmp_path, refused_source):
    source, release = refused_source
    events = [dataclasses.replace(e, event_id=uuid.uuid4(), source=source) for e in demo_event_list(40, seed=9)]
    publish_events(pipeline, events)
    port = free_port()

    start(
        pipeline,
        "processors.persister",
        tmp_path,
        HERALD_METRICS_PORT=str(port),
        HERALD_STALL_TIMEOUT_S="3",
        HERALD_READY_MAX_FAILED_BATCHES="1000",
    )  # only the stall may turn it red here
    wait_until(lambda: readyz(port)[0] == 503 and "no progress" in readyz(port)[1], 60, what="/readyz to fail")
    wait_until(lambda: stalled_series(port), 30, what="herald_partition_stalled to read 1")

    release()
    wait_until(lambda: lag(pipeline) == 0, 60, what="the persister to catch up")
    wait_until(lambda: readyz(port)[0] == 200 and not stalled_series(port), 30, what="/readyz to recover")
