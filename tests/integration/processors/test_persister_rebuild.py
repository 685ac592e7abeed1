"""``herald rebuild feed`` against the real Kafka and Postgres: the rows the persister stored, rebuilt
from the activity topic into a fresh table, for a window of record times."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import Producer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from cli.main import app
from cli.processes import wait_until
from cli.produce import demo_event_list
from processors.persister.rebuild import RebuildRefused, rebuild_feed
from sinks.postgres.activity import COLUMNS
from streams.messages import ACTIVITY_EVENT
from streams.serde import AvroSerde, SchemaStore
from streams.topics import ACTIVITY
from tests.integration.helpers import count_rows, lag, start

pytestmark = pytest.mark.integration
PERSISTER = "processors.persister"
SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())


def fresh_events(n: int, seed: int) -> list:
    return [dataclasses.replace(e, event_id=uuid.uuid4()) for e in demo_event_list(n, seed=seed)]


def produce_at(pipeline, stamp: datetime, records: list[tuple[bytes, bytes]]) -> None:
    """Records with the given timestamp (what offsets_for_times and the window go by)."""
    producer = Producer({"bootstrap.servers": pipeline.settings.kafka_bootstrap, "partitioner": "murmur2_random"})
    for key, value in records:
        producer.produce(pipeline.topic(ACTIVITY), value, key, timestamp=int(stamp.timestamp() * 1000))
    assert producer.flush(30) == 0


def as_records(events) -> list[tuple[bytes, bytes]]:
    return [(e.key, SERDE.encode(e.to_avro())) for e in events]


def rows_of(engine, table: str, ids: list) -> dict:
    with engine.connect() as conn:
        found = conn.execute(
            text(
                f"SELECT {', '.join(COLUMNS)}, received_at, notification_sent_at FROM {table} WHERE event_id = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
    return {row[0]: tuple(row) for row in found}


@pytest.fixture
def two_windows(pipeline, tmp_path):
    """300 events stamped two hours ago and 300 an hour ago (plus, in the later window, a second copy of
    one event and two records the persister dead-letters), stored by the persister."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    earlier, later = now - timedelta(hours=2), now - timedelta(hours=1)
    old, new = fresh_events(300, seed=61), fresh_events(300, seed=62)
    no_org = SERDE.encode({**new[0].to_avro(), "event_id": str(uuid.uuid4()), "organization_id": ""})
    produce_at(pipeline, earlier, as_records(old))
    produce_at(pipeline, later, as_records(new) + as_records(new[:1]) + [(b"p1", b"not avro"), (b"p2", no_org)])
    start(pipeline, PERSISTER, tmp_path)
    wait_until(lambda: count_rows(pipeline, [e.event_id for e in old + new]) == 600, 90, what="600 rows")
    wait_until(lambda: lag(pipeline) == 0, 60, what="the persister to commit every record")
    return old, new, later


def test_given_two_windows_when_rebuilt_since_the_later_then_exactly_its_rows_equal_to_the_persisters(
    pipeline, two_windows
):
    old, new, later = two_windows
    engine = create_engine(pipeline.settings.database_url)
    table = f"rebuild_{uuid.uuid4().hex[:8]}"

    report = rebuild_feed(pipeline.settings, engine, SERDE, since=later, table=table, batch_size=128)

    assert (report.read, report.decoded, report.written, report.already_stored) == (303, 301, 300, 1)
    assert report.outside_window == 0 and report.conflicting == 0
    assert dict(report.skipped) == {
        "DecodeError: unknown framing": 1,
        "InvalidEvent: organization_id is required": 1,
    }
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 300  # the copy stays one row
    ids = [e.event_id for e in new]
    live, rebuilt = rows_of(engine, "activity_events", ids), rows_of(engine, table, ids)
    width = len(COLUMNS)
    assert {k: r[:width] for k, r in rebuilt.items()} == {k: r[:width] for k, r in live.items()}
    assert {r[width] for r in rebuilt.values()} == {later}  # received_at: the record's time
    assert all(r[width + 1] == (later if r[13] else None) for r in rebuilt.values())  # notification_sent_at
    assert rows_of(engine, table, [e.event_id for e in old]) == {}
    engine.dispose()


def test_given_a_rebuilt_table_when_rebuilt_again_then_nothing_is_added(pipeline, two_windows):
    old, new, later = two_windows
    engine = create_engine(pipeline.settings.database_url)
    table = f"rebuild_{uuid.uuid4().hex[:8]}"
    since = later - timedelta(hours=2)
    first = rebuild_feed(pipeline.settings, engine, SERDE, since=since, table=table)

    again = rebuild_feed(pipeline.settings, engine, SERDE, since=since, table=table)

    assert first.written == 600 and again.written == 0 and again.already_stored == 601
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 600
    until = rebuild_feed(pipeline.settings, engine, SERDE, since=since, until=later, table=table, replace=True)
    assert (until.read, until.written) == (300, 300)  # --until: the earlier window alone
    engine.dispose()


def test_the_live_table_is_refused_unless_asked_explicitly(pipeline):
    engine = create_engine(pipeline.settings.database_url)

    with pytest.raises(RebuildRefused, match="--into-live"):
        rebuild_feed(pipeline.settings, engine, SERDE, since=datetime.now(timezone.utc), table="activity_events")
    engine.dispose()


def test_the_command_reports_counts_without_record_content_and_refuses_the_live_table(pipeline, two_windows):
    old, new, later = two_windows
    table = f"rebuild_{uuid.uuid4().hex[:8]}"
    runner = CliRunner()

    result = runner.invoke(
        app,
        ["rebuild", "feed", "--since", later.isoformat(), "--into", table],
        env=pipeline.env,
        catch_exceptions=False,
    )
    refused = runner.invoke(
        app, ["rebuild", "feed", "--since", later.isoformat(), "--into", "activity_events"], env=pipeline.env
    )

    assert result.exit_code == 0, result.output
    assert "read 303; written 300; already stored 1" in result.output
    assert "undecodable, DecodeError: unknown framing: 1" in result.output
    assert new[0].title not in result.output and "not avro" not in result.output
    assert refused.exit_code == 2 and "--into-live" in refused.output


def test_given_rows_missing_from_the_live_feed_when_rebuilt_into_it_then_exactly_those_come_back(pipeline, two_windows):
    old, new, later = two_windows
    engine = create_engine(pipeline.settings.database_url)
    lost = [e.event_id for e in new[:25]]
    before = rows_of(engine, "activity_events", lost)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM activity_events WHERE event_id = ANY(:ids)"), {"ids": lost})

    report = rebuild_feed(pipeline.settings, engine, SERDE, since=later, table="activity_events", into_live=True)

    assert (report.written, report.already_stored) == (25, 276)
    width = len(COLUMNS)
    restored = rows_of(engine, "activity_events", lost)
    assert {k: r[:width] for k, r in restored.items()} == {k: r[:width] for k, r in before.items()}
    assert count_rows(pipeline, [e.event_id for e in old + new]) == 600
    engine.dispose()
