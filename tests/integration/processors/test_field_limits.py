"""Records that decode but that Postgres cannot store never stall a partition (real Kafka and Postgres).

First line: every field's limit (streams/limits.py) is checked on read, so a foreign producer's record one
character over a limit, or with a NUL character, is dead-lettered with its reason by the persister.
Second line: a batch whose sink write fails with a data error is narrowed down to the offending
records, which are dead-lettered with the database's message, while the rest of the batch is written.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest

from cli.processes import wait_until
from cli.produce import demo_event_list
from processors.persister.app import Persister, PersisterSink
from sinks.postgres import activity_rows
from sinks.postgres.activity import ActivityEventSink
from sinks.postgres.activity_rows import row_from_avro
from sinks.postgres.engine import build_engine
from streams.app import build_runtime
from streams.decoder import Decoder
from streams.limits import ACTIVITY_TEXT_MAX
from streams.messages import ACTIVITY_EVENT
from streams.serde import AvroSerde, SchemaStore
from streams.topics import ACTIVITY, ACTIVITY_DLQ
from tests.integration.helpers import count_rows, lag, produce_raw, publish_events, read_all, start

pytestmark = pytest.mark.integration
SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())


def fresh_events(n: int, seed: int):
    """Demo events with ids of their own: the session's database is shared, and another test's events of
    the same seed (same ids, other content) would be conflicting duplicates here."""
    return [dataclasses.replace(e, event_id=uuid.uuid4()) for e in demo_event_list(n, seed=seed)]


def over_the_limit(event) -> dict[str, bytes]:
    """One record per limited field, that field one character over its limit (the rest of the event valid)."""
    base = event.to_avro()
    out = {}
    for name, most in ACTIVITY_TEXT_MAX.items():
        value = "X" * (most + 1) if name != "visibility" else "all_members" + "x" * (most - 10)
        if name == "event_type":
            value = "A" * (most + 1)
        out[name] = SERDE.encode({**base, "event_id": str(uuid.uuid4()), name: value})
    return out


def with_nul(event) -> dict[str, bytes]:
    base = event.to_avro()
    return {
        field: SERDE.encode({**base, "event_id": str(uuid.uuid4()), **change})
        for field, change in {
            "title": {"title": "K+ \x00 high"},
            "description": {"description": "line\x00"},
            "attribute": {"attributes": {"lab": "\x00"}},
            "patient_id": {"patient_id": "p\x00"},
        }.items()
    }


def test_given_records_over_a_limit_or_with_nul_then_each_is_dead_lettered_and_the_rest_stored(pipeline, tmp_path):
    events = fresh_events(300, seed=7)
    bad = {
        **{f"over:{k}": v for k, v in over_the_limit(events[0]).items()},
        **{f"nul:{k}": v for k, v in with_nul(events[0]).items()},
    }
    publish_events(pipeline, events[:150])
    produce_raw(pipeline, ACTIVITY, [(name.encode(), value) for name, value in bad.items()])
    publish_events(pipeline, events[150:])

    start(pipeline, "processors.persister", tmp_path)
    wait_until(lambda: count_rows(pipeline, [e.event_id for e in events]) == 300, 60, what="the 300 valid rows")
    wait_until(lambda: lag(pipeline) == 0, 60, what="lag 0")

    dead = {
        m.key().decode(): dict(m.headers())["herald.error.reason"].decode() for m in read_all(pipeline, ACTIVITY_DLQ)
    }
    assert set(dead) == set(bad)
    for name, reason in dead.items():
        kind, field = name.split(":")
        if kind == "nul":
            assert "NUL" in reason, (name, reason)
        elif field == "visibility":
            assert "visibility" in reason
        else:
            assert field in reason and ("at most" in reason or "UPPER_SNAKE_CASE" in reason), (name, reason)


def test_given_rows_the_database_refuses_then_they_are_dead_lettered_with_its_message_and_the_rest_written(
    pipeline, monkeypatch
):
    # A row builder that checks nothing: as if a limit were wider than its column.
    monkeypatch.setattr(activity_rows, "activity_problem", lambda d: None)
    events = fresh_events(400, seed=8)
    too_long = [{**e.to_avro(), "patient_id": "p" * 65} for e in events[:5]]
    nul = [{**e.to_avro(), "title": "a\x00b"} for e in events[5:8]]
    publish_events(pipeline, events[8:200])
    produce_raw(pipeline, ACTIVITY, [(f"bad-{i}".encode(), SERDE.encode(d)) for i, d in enumerate(too_long + nul)])
    publish_events(pipeline, events[200:])
    settings = pipeline.settings.model_copy(update={"metrics_port": 0})
    runtime = build_runtime(
        settings,
        processor=Persister(),
        group="persister",
        topics=[ACTIVITY],
        dead_letters={ACTIVITY: ACTIVITY_DLQ},
        decode=Decoder(SERDE, row_from_avro),
        sink=PersisterSink(ActivityEventSink(build_engine(settings.database_url))),
        pipelined=True,
    )
    loop = threading.Thread(target=runtime.run)
    loop.start()
    try:
        wait_until(lambda: count_rows(pipeline, [e.event_id for e in events[8:]]) == 392, 60, what="the valid rows")
        wait_until(lambda: lag(pipeline) == 0, 60, what="lag 0")
    finally:
        runtime.stop()
        loop.join(30)

    dead = read_all(pipeline, ACTIVITY_DLQ)
    reasons = {m.key().decode(): dict(m.headers())["herald.error.reason"].decode() for m in dead}
    assert len(dead) == 8 and set(reasons) == {f"bad-{i}" for i in range(8)}
    assert all("value too long" in reasons[f"bad-{i}"] for i in range(5))
    assert all("NUL" in reasons[f"bad-{i}"] or "0x00" in reasons[f"bad-{i}"] for i in range(5, 8)), reasons
    assert {dict(m.headers())["herald.error.type"] for m in dead} == {b"DataError"}
    assert count_rows(pipeline, [e.event_id for e in events[:8]]) == 0


def test_the_migrated_columns_are_as_wide_as_the_limits(database_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        widths = dict(
            conn.execute(
                text(
                    "SELECT column_name, character_maximum_length FROM information_schema.columns "
                    "WHERE table_name = 'activity_events' AND character_maximum_length IS NOT NULL"
                )
            ).all()
        )
    engine.dispose()
    assert {name: widths[name] for name in ACTIVITY_TEXT_MAX if name in widths} == {
        name: most for name, most in ACTIVITY_TEXT_MAX.items() if name in widths
    }
    assert set(ACTIVITY_TEXT_MAX) - set(widths) == {"description"}
