"""Dead letters per stage and conflicting duplicates, with the persister and the fan-out running as they do
in production (real Kafka and Postgres; docs/decisions/0120 and 0121)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from cli.dlq import replay_dlq
from cli.processes import wait_until
from processors.demo.traffic import build_world, demo_events
from processors.notifications.directory import Directory
from streams.topics import ACTIVITY, ACTIVITY_DLQ, PUSH
from tests.integration.helpers import (
    committed_total,
    count_rows,
    decode_pushes,
    lag,
    produce_raw,
    publish_events,
    query,
    read_all,
    start,
)
from tests.integration.processors.test_fanout import expected_outcomes, load_directory, unique

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)
STAGES = ("persister", "fanout")


def start_stages(pipeline, tmp_path) -> None:
    start(pipeline, "processors.persister", tmp_path)
    start(pipeline, "processors.fanout", tmp_path)


def caught_up(pipeline) -> bool:
    return all(lag(pipeline, stage) == 0 for stage in STAGES)


def dead_letters(pipeline) -> list[dict]:
    return [
        {**{k: (v or b"").decode() for k, v in m.headers() or []}, "offset": m.offset(), "value": m.value()}
        for m in read_all(pipeline, ACTIVITY_DLQ)
    ]


def test_one_bad_record_gives_one_dead_letter_per_stage_and_each_replay_reaches_its_stage_only(pipeline, tmp_path):
    world = build_world(
        random.Random(21), NOW, organizations=1, users_per_org=10, patients_per_org=20, org_prefix=unique()
    )
    events = list(demo_events(world, random.Random(22), 300, NOW - timedelta(minutes=5)))
    publish_events(pipeline, events[:150])
    produce_raw(pipeline, ACTIVITY, [(b"bad-1", b"not avro at all")])
    publish_events(pipeline, events[150:])

    start_stages(pipeline, tmp_path)
    wait_until(
        lambda: caught_up(pipeline) and count_rows(pipeline, [e.event_id for e in events]) == 300,
        120,
        what="both stages to catch up",
    )

    first = dead_letters(pipeline)
    assert sorted(d["herald.consumer.group"] for d in first) == [pipeline.group(s) for s in ("fanout", "persister")]
    assert {d["value"] for d in first} == {b"not avro at all"}

    report = replay_dlq(pipeline.settings, pipeline.topic(ACTIVITY_DLQ))
    assert len(report.replayed) == 2
    copies = [dict(m.headers() or []) for m in read_all(pipeline, ACTIVITY) if m.value() == b"not avro at all"]
    assert sorted(h.get("herald.replay.for", b"").decode() for h in copies) == [""] + sorted(
        d["herald.consumer.group"] for d in first
    )  # the original, and one replay per stage

    ends = Counter()
    for m in read_all(pipeline, ACTIVITY):
        ends[m.partition()] = max(ends[m.partition()], m.offset() + 1)
    # both stages past the replays (their lag stays at 1: the replay's commit marker ends the partition)
    wait_until(
        lambda: all(committed_total(pipeline, s) >= sum(ends.values()) for s in STAGES),
        60,
        what="both stages to consume the replays",
    )
    again = dead_letters(pipeline)[2:]
    # each replay failed again in the stage it was for, and only there: 2 dead letters, not 4
    assert len(again) == 2
    by_offset = {d["offset"]: d["herald.consumer.group"] for d in first}
    assert sorted(
        (d["herald.consumer.group"], by_offset[int(d["herald.replay.of"].rsplit("/", 1)[1])]) for d in again
    ) == [(pipeline.group(s), pipeline.group(s)) for s in ("fanout", "persister")]


def notified(events, directory) -> list:
    """Events whose recipients get a bell row (and some a push), with their (event_id, user) pairs."""
    return [(e, expected_outcomes([e], directory, {})) for e in events if e.notify]


def test_a_conflicting_duplicate_is_dead_lettered_by_each_stage_and_the_first_version_kept_everywhere(
    pipeline, tmp_path
):
    world = build_world(
        random.Random(31), NOW, organizations=1, users_per_org=20, patients_per_org=30, org_prefix=unique()
    )
    changes = world.directory(NOW)
    directory = Directory.from_changes(changes)
    load_directory(pipeline, tmp_path, changes)
    events = list(demo_events(world, random.Random(32), 400, NOW - timedelta(minutes=5)))
    candidates = notified(events, directory)
    v1, (bell1, push1, _) = next((e, out) for e, out in candidates if out[0] and not out[1])  # bell rows, no push
    other, (bell_other, push_other, _) = next((e, out) for e, out in candidates if out[1])  # pushed at once
    v2 = dataclasses.replace(other, event_id=v1.event_id)  # same id, other content, other recipients, pushes
    publish_events(pipeline, events)
    start_stages(pipeline, tmp_path)
    wait_until(lambda: caught_up(pipeline), 120, what="both stages to catch up")

    publish_events(pipeline, [v2, v1])  # another version, then the same event again (a redelivery)
    wait_until(lambda: caught_up(pipeline) and len(dead_letters(pipeline)) >= 2, 60, what="the duplicates")

    dead = dead_letters(pipeline)
    assert len(dead) == 2 and {d["herald.error.type"] for d in dead} == {"ConflictingDuplicate"}
    assert sorted(d["herald.consumer.group"] for d in dead) == [pipeline.group(s) for s in ("fanout", "persister")]
    assert all(d["herald.error.reason"].startswith("conflicting duplicate") for d in dead)
    (row,) = query(pipeline, "SELECT title, patient_id FROM activity_events WHERE event_id = :e", e=v1.event_id)
    assert tuple(row) == (v1.title, v1.patient_id)
    bell = set(query(pipeline, "SELECT event_id, user_id FROM user_notifications WHERE event_id = :e", e=v1.event_id))
    assert bell == bell1 and {u for _, u in bell_other} - {u for _, u in bell1}, "v2 must have others to notify"
    assert push_other and not push1, "v2 must push, v1 not"
    assert [p for p in decode_pushes(read_all(pipeline, PUSH)) if p.event_id == v1.event_id] == []
