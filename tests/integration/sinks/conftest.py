"""Fixtures of the Postgres sink tests."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine


@pytest.fixture
def engine(database_url):
    """An engine on the test database, disposed after the test."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()
