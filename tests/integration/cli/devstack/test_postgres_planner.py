"""The Postgres Herald sets up (local stack, container) plans a batch's key lookups on the index.

With the default random_page_cost (4) a batch of ~400 or more keys made Postgres read a 30,000-row
table whole, once per batch; the push sender's Postgres CPU tripled when it fell behind
(cli/devstack/postgres.py:PG_ROLE_SETTINGS, docs/decisions/0034-postgres-random-page-cost.md).
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.integration

ROWS, BATCH = 30_000, 600  # a bench run's bell table; a push sender's batch after it fell behind


@pytest.fixture
def bell_table(services, database_url):
    if not services.managed:
        pytest.skip("HERALD_DATABASE_URL names a database its operator configures")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("CREATE TEMP TABLE bell (LIKE user_notifications INCLUDING ALL)"))
        conn.execute(
            text(
                "INSERT INTO bell (notification_id, user_id, organization_id, event_id, event_type, priority, reason, "
                "occurred_at) SELECT gen_random_uuid(), 'u' || (g % 120), 'org', gen_random_uuid(), 'LAB_RESULT_RECEIVED', "
                "'HIGH', 'care_team', now() FROM generate_series(1, :n) g"
            ),
            {"n": ROWS},
        )
        conn.execute(text("ANALYZE bell"))
        yield conn
        conn.rollback()
    engine.dispose()


def test_a_batch_of_keys_is_looked_up_on_the_primary_key_not_by_reading_the_table(bell_table):
    ids = bell_table.execute(text("SELECT notification_id FROM bell LIMIT :n"), {"n": BATCH}).scalars().all()

    plans = [
        bell_table.execute(text("EXPLAIN " + sql), {"ids": ids}).scalars().all()
        for sql in (
            "UPDATE bell SET push_status = 'sent' WHERE notification_id = ANY(:ids) AND push_status <> 'sent'",
            "SELECT notification_id FROM bell WHERE notification_id = ANY(:ids)",
        )
    ]

    for plan in plans:
        assert not any("Seq Scan" in line for line in plan), "\n".join(plan)
