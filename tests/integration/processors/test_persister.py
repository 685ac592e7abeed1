"""The persister against the real Kafka and Postgres: valid rows, dead letters, crashes, redelivery."""

from __future__ import annotations

import signal
import time

import pytest

from cli.processes import wait_until
from cli.produce import demo_event_list
from streams.messages import ACTIVITY_EVENT
from streams.serde import AvroSerde, SchemaStore
from streams.topics import ACTIVITY, ACTIVITY_DLQ
from tests.integration.helpers import (
    committed_total,
    count_rows,
    lag,
    produce_raw,
    publish_events,
    read_all,
    start,
    topic_size,
)

pytestmark = pytest.mark.integration
PERSISTER = "processors.persister"


def malformed_records(events) -> list[tuple[bytes, bytes]]:
    """50 records of five kinds, each of which must be dead-lettered with its own reason."""
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    valid = serde.encode(events[0].to_avro())
    no_org = serde.encode({**events[0].to_avro(), "organization_id": ""})
    kinds = [
        b"not avro at all",
        b"\xc3\x01" + b"\xee" * 8 + valid[10:],
        valid[:25],
        b"\x00\x00\x00\x00\x2a" + valid[10:],
        no_org,
    ]
    return [(f"bad-{i}".encode(), kinds[i % 5]) for i in range(50)]


def test_given_10000_events_and_50_malformed_then_rows_dlq_and_lag_are_exact(pipeline, tmp_path):
    events = demo_event_list(10_000, seed=101)
    publish_events(pipeline, events[:5000])
    produce_raw(pipeline, ACTIVITY, malformed_records(events))
    publish_events(pipeline, events[5000:])

    start(pipeline, PERSISTER, tmp_path)
    wait_until(lambda: count_rows(pipeline, [e.event_id for e in events]) == 10_000, 120, what="10,000 rows")
    wait_until(lambda: lag(pipeline) == 0, 60, what="lag 0")

    dead = read_all(pipeline, ACTIVITY_DLQ)
    reasons = [dict(m.headers())["herald.error.reason"].decode() for m in dead]
    assert len(dead) == 50
    assert {m.key() for m in dead} == {f"bad-{i}".encode() for i in range(50)}
    for fragment in (
        "unknown framing",
        "unknown schema fingerprint",
        "corrupt Avro body",
        "no schema registry is configured",
        "organization_id is required",
    ):
        assert sum(fragment in r for r in reasons) == 10, fragment
    assert all(dict(m.headers())["herald.source.topic"] == pipeline.topic(ACTIVITY).encode() for m in dead)


def test_given_the_same_events_published_twice_then_one_row_each(pipeline, tmp_path):
    events = demo_event_list(500, seed=202)
    publish_events(pipeline, events)
    publish_events(pipeline, events)

    start(pipeline, PERSISTER, tmp_path)
    wait_until(lambda: lag(pipeline) == 0 and topic_size(pipeline, ACTIVITY) == 1000, 60, what="both copies consumed")

    assert count_rows(pipeline, [e.event_id for e in events]) == 500


def test_given_a_sigkill_mid_stream_when_restarted_then_nothing_is_lost_or_duplicated(pipeline, tmp_path):
    events = demo_event_list(20_000, seed=303)
    ids = [e.event_id for e in events]
    publish_events(pipeline, events)
    small_batches = {"HERALD_BATCH_MAX_RECORDS": "200"}

    first = start(pipeline, PERSISTER, tmp_path, **small_batches)
    wait_until(lambda: count_rows(pipeline, ids) > 0, 60, interval=0.05, what="the first rows")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = count_rows(pipeline, ids)
    start(pipeline, PERSISTER, tmp_path, **small_batches)
    wait_until(lambda: lag(pipeline) == 0, 120, what="the restarted persister to catch up")

    assert 0 < at_kill < 20_000, "the kill did not land mid-stream"
    assert count_rows(pipeline, ids) == 20_000  # activity_events' PK makes a duplicate row impossible


def test_given_sigterm_during_a_batch_then_exit_0_quickly_and_nothing_lost(pipeline, tmp_path):
    events = demo_event_list(20_000, seed=404)
    ids = [e.event_id for e in events]
    publish_events(pipeline, events)

    proc = start(pipeline, PERSISTER, tmp_path, HERALD_BATCH_MAX_RECORDS="200")
    wait_until(lambda: count_rows(pipeline, ids) > 0, 60, interval=0.05, what="the first rows")
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(10)
    rows_at_exit, committed_at_exit = count_rows(pipeline, ids), committed_total(pipeline)

    assert code == 0
    assert committed_at_exit <= rows_at_exit, "an offset was committed before its row was durable"
    start(pipeline, PERSISTER, tmp_path)
    wait_until(lambda: lag(pipeline) == 0, 120, what="the restarted persister to catch up")
    assert count_rows(pipeline, ids) == 20_000


def test_given_a_second_member_joins_mid_stream_then_the_rebalance_completes_and_every_row_lands(pipeline, tmp_path):
    """Pipelined mode: the first member is revoked partitions while a batch is in flight on its writer
    thread; the revoke waits for that batch and commits it (a commit from the writer thread itself
    deadlocked here), then both members share the rest."""
    events = demo_event_list(20_000, seed=505)
    ids = [e.event_id for e in events]
    publish_events(pipeline, events)
    small_batches = {"HERALD_BATCH_MAX_RECORDS": "200"}

    first = start(pipeline, PERSISTER, tmp_path, **small_batches)
    wait_until(lambda: count_rows(pipeline, ids) > 0, 60, interval=0.05, what="the first rows")
    second = start(pipeline, PERSISTER, tmp_path, **small_batches)
    wait_until(lambda: lag(pipeline) == 0, 120, what="both members to catch up")

    assert count_rows(pipeline, ids) == 20_000
    for proc in (first, second):
        proc.send_signal(signal.SIGTERM)
    assert [proc.wait(20) for proc in (first, second)] == [0, 0]


def test_given_an_instance_id_when_a_sigkilled_persister_restarts_then_it_takes_its_partitions_back_at_once(
    pipeline, tmp_path
):
    """Static membership: the restarted replica rejoins under its old group.instance.id, so the broker
    hands its partitions back without waiting for the dead session (60 s here) to expire."""
    static = {"HERALD_INSTANCE_ID": "persister-0", "HERALD_SESSION_TIMEOUT_MS": "60000"}
    before, after = demo_event_list(50, seed=304), demo_event_list(50, seed=305)
    publish_events(pipeline, before)
    first = start(pipeline, PERSISTER, tmp_path, **static)
    wait_until(
        lambda: lag(pipeline) == 0 and count_rows(pipeline, [e.event_id for e in before]) == 50,
        60,
        interval=0.05,
        what="the first events",
    )
    first.send_signal(signal.SIGKILL)
    first.wait(10)

    publish_events(pipeline, after)
    restarted_at = time.monotonic()
    start(pipeline, PERSISTER, tmp_path, **static)
    wait_until(
        lambda: count_rows(pipeline, [e.event_id for e in after]) == 50,
        90,
        interval=0.05,
        what="the restarted persister's rows",
    )
    took = time.monotonic() - restarted_at

    assert took < 30, f"{took:.1f} s: the restart waited for the old session (60 s) instead of taking its place"
