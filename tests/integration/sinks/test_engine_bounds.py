"""Every statement of a processor's engine is bounded: a database that hangs fails the batch as a
transient error (retried, shown on /readyz) instead of keeping the loop waiting for good."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from sinks.postgres.engine import LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS, build_engine, build_reader
from streams.failures import Failure, classify

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("build", [build_engine, build_reader])
def test_given_a_processor_engine_when_connected_then_statements_and_lock_waits_are_bounded(database_url, build):
    engine = build(database_url)
    try:
        with engine.connect() as conn:
            settings = dict(
                conn.execute(
                    text("SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout')")
                ).all()
            )
    finally:
        engine.dispose()
    assert settings == {"statement_timeout": str(STATEMENT_TIMEOUT_MS), "lock_timeout": str(LOCK_TIMEOUT_MS)}


def test_given_a_statement_that_outlasts_the_bound_when_run_then_it_is_cancelled_as_a_transient_failure(database_url):
    engine = build_engine(database_url, statement_timeout_ms=200)
    try:
        with pytest.raises(OperationalError) as raised, engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        engine.dispose()
    assert getattr(raised.value.orig, "sqlstate", None) == "57014"  # query_canceled
    assert classify(raised.value) is Failure.TRANSIENT
