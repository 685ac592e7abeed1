"""Archive → restore against real Postgres: a partition retention drops is written to a gzip'd COPY CSV
file with a manifest, and restoring it gives back every row and every column as it was."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from sinks.postgres import archive, retention

pytestmark = pytest.mark.integration
UTC = timezone.utc

# Values that a careless export would change: separators, quotes, newlines, backslashes, non-ASCII,
# JSON with nesting and escapes, NULLs, microseconds and offsets, the empty string.
TRICKY = {
    "title": 'Lab "result", line 1\nline 2\\ end ✓',
    "description": "",
    "attributes": json.dumps({"k": 'v,"q"', "nested": {"list": [1, None, "ß"]}, "nl": "a\nb"}),
}


@pytest.fixture
def shaped_like(engine, monkeypatch):
    """make(table): a partitioned copy of the live ``table``'s columns, with October 2026, standing in for it."""
    made = []

    def make(table: str) -> str:
        name = f"test_arch_{uuid.uuid4().hex[:8]}"
        with engine.begin() as conn:
            conn.execute(
                text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)")
            )
            conn.execute(
                text(
                    f"CREATE TABLE {name}_p202610 PARTITION OF {name} FOR VALUES FROM ('2026-10-01Z') TO ('2026-11-01Z')"
                )
            )
        made.append(name)
        monkeypatch.setattr(retention, "PARTITIONED", {name: "occurred_at"})
        return name

    yield make
    with engine.begin() as conn:
        for name in made:
            conn.execute(text(f"DROP TABLE IF EXISTS {name}, {name}_expected, restored_{name}_p202610"))


def round_trip(engine, table: str, tmp_path) -> tuple[archive.Manifest, str]:
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table}_expected AS SELECT * FROM {table}"))
    done = retention.run_retention(
        engine, now=datetime(2027, 6, 1, tzinfo=UTC), keep_days={table: 30}, archive_dir=tmp_path
    )
    assert done.dropped == [f"{table}_p202610"] and len(done.archived) == 1
    restored, rows = archive.restore(engine, done.archived[0])
    return archive.Manifest.read(done.archived[0]), restored


def assert_same(engine, expected: str, restored: str) -> None:
    with engine.connect() as conn:
        for a, b in ((expected, restored), (restored, expected)):
            assert (
                conn.execute(text(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) d")).scalar()
                == 0
            )
        types = "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass(:r) AND attnum > 0 ORDER BY attnum"
        assert conn.execute(text(types), {"r": expected}).all() == conn.execute(text(types), {"r": restored}).all()


def test_an_archived_month_of_the_feed_restores_every_column(engine, shaped_like, tmp_path):
    t = shaped_like("activity_events")
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {t} (event_id, event_type, priority, occurred_at, organization_id, actor_user_id, patient_id, "
                "encounter_id, resource_type, resource_id, practitioner_user_id, title, description, notify, visibility, "
                "attributes, source, received_at, notification_sent_at) VALUES "
                "(gen_random_uuid(), 'LAB_RESULT', 'HIGH', '2026-10-31T23:59:59.999999+02', 'org-1', 'u-1', 'p-1', 'e-1', "
                "'Observation', 'obs/1', 'u-2', :title, :description, true, 'ALL_MEMBERS', CAST(:attributes AS jsonb), "
                "'lab', '2026-10-31T22:00:00.000001Z', '2026-10-31T22:00:01Z'), "
                "(gen_random_uuid(), 'NOTE', 'LOW', '2026-10-01T00:00:00Z', 'org-1', NULL, NULL, NULL, NULL, NULL, NULL, "
                "'t', NULL, false, NULL, '{}', '', now(), NULL)"
            ),
            TRICKY,
        )
    manifest, restored = round_trip(engine, t, tmp_path)
    assert manifest.rows == 2 and manifest.table == t and manifest.key == "occurred_at"
    assert (manifest.lower, manifest.upper) == ("2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00")
    assert manifest.key_min.startswith("2026-10-01") and manifest.key_max.startswith("2026-10-31T21:59:59.999999")
    assert [c[0] for c in manifest.columns][:4] == ["event_id", "event_type", "priority", "occurred_at"]
    assert (tmp_path / manifest.file).read_bytes()[:2] == b"\x1f\x8b"  # gzip
    assert_same(engine, f"{t}_expected", restored)


def test_an_archived_month_of_the_bell_and_of_push_deliveries_restores_every_column(engine, shaped_like, tmp_path):
    bell = shaped_like("user_notifications")
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {bell} (notification_id, user_id, organization_id, event_id, event_type, priority, reason, "
                "patient_id, resource_type, resource_id, occurred_at, created_at, read_at, push_status, pushed_at, "
                "alert_step, acknowledged_at, declined_at, opened_at) VALUES (gen_random_uuid(), 'u1', 'org', "
                "gen_random_uuid(), 'LAB_RESULT_CRITICAL', 'URGENT', 'CARE_TEAM', 'p', 'Observation', :title, "
                "'2026-10-15T10:00:00.5Z', '2026-11-02T00:00:00Z', now(), 'sent', now(), 2, now(), NULL, now())"
            ),
            TRICKY,
        )
    _, restored = round_trip(engine, bell, tmp_path / "bell")
    assert_same(engine, f"{bell}_expected", restored)

    push = shaped_like("push_deliveries")
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {push} (notification_id, token, user_id, status, fcm_message_id, error_code, attempts, "
                "updated_at, occurred_at) VALUES (gen_random_uuid(), repeat('t', 4000), 'u1', 'failed', NULL, "
                "'UNAVAILABLE', 5, now(), '2026-10-15T10:00:00Z')"
            )
        )
    _, restored = round_trip(engine, push, tmp_path / "push")
    assert_same(engine, f"{push}_expected", restored)


def test_a_damaged_archive_is_refused_and_restores_nothing(engine, shaped_like, tmp_path):
    t = shaped_like("push_deliveries")
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {t} (notification_id, token, user_id, status, occurred_at) "
                "VALUES (gen_random_uuid(), 'tk', 'u1', 'sent', '2026-10-15Z')"
            )
        )
    done = retention.run_retention(
        engine, now=datetime(2027, 6, 1, tzinfo=UTC), keep_days={t: 30}, archive_dir=tmp_path
    )
    manifest = archive.Manifest.read(done.archived[0])
    data = tmp_path / manifest.file
    data.write_bytes(data.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    with pytest.raises(archive.ArchiveDamaged):
        archive.restore(engine, done.archived[0])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass(:r)"), {"r": f"restored_{t}_p202610"}).scalar() is None


def test_a_partition_detached_by_a_crashed_run_is_archived_and_dropped_by_the_next(engine, shaped_like, tmp_path):
    t = shaped_like("push_deliveries")
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {t} (notification_id, token, user_id, status, occurred_at) "
                "VALUES (gen_random_uuid(), 'tk', 'u1', 'sent', '2026-10-15Z')"
            )
        )
        conn.execute(text(f"ALTER TABLE {t} DETACH PARTITION {t}_p202610"))  # the crash came after this
    done = retention.run_retention(
        engine, now=datetime(2027, 6, 1, tzinfo=UTC), keep_days={t: 30}, archive_dir=tmp_path
    )
    assert done.dropped == [f"{t}_p202610"]
    assert archive.Manifest.read(done.archived[0]).rows == 1
