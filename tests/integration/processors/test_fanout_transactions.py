"""The fan-out when its Kafka transaction fails after the Postgres commit (real Kafka and Postgres).

Between the two commits of a batch (bell rows in Postgres, push requests and offsets in one Kafka
transaction), the producer fails fatally. The batch must be fanned out again by a new producer: every
push request lands exactly once, every bell row exists, and the group catches up by itself.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from confluent_kafka import KafkaError, KafkaException

import streams.app
from cli.processes import wait_until
from processors.demo.traffic import build_world, demo_events
from processors.fanout.app import Fanout
from processors.fanout.settings import FanoutSettings
from processors.notifications.directory import Directory
from processors.notifications_io.loader import DirectoryLoader
from sinks.postgres.engine import build_engine
from sinks.postgres.notifications import NotificationSink
from streams.decoder import Decoder
from streams.messages import ACTIVITY_EVENT, PUSH_REQUEST, ActivityEvent
from streams.serde import AvroSerde, SchemaStore
from streams.topics import ACTIVITY, ACTIVITY_DLQ, PUSH
from tests.integration.helpers import decode_pushes, lag, publish_events, query, read_all
from tests.integration.processors.test_fanout import expected_outcomes, load_directory, unique

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


class FatalAtCommit:
    """A real transactional producer whose ``commit_transaction`` fails fatally, as a fenced or broken one does."""

    def __init__(self, real) -> None:
        self._real = real
        self.failed = 0

    def __getattr__(self, name):
        return getattr(self._real, name)

    def commit_transaction(self, timeout=None):
        self.failed += 1
        raise KafkaException(KafkaError(KafkaError._FENCED, "injected: producer fenced", fatal=True))


def test_given_a_fatal_producer_error_between_the_two_commits_then_each_push_lands_exactly_once(
    pipeline, tmp_path, monkeypatch
):
    world = build_world(
        random.Random(11), NOW, organizations=1, users_per_org=20, patients_per_org=30, org_prefix=unique()
    )
    changes = world.directory(NOW)
    load_directory(pipeline, tmp_path, changes)
    events = [e for e in demo_events(world, random.Random(12), 400, NOW - timedelta(minutes=5))]
    publish_events(pipeline, events)

    built, real_build = [], streams.app.build_producer

    def build_producer(settings, **kwargs):
        producer = real_build(settings, **kwargs)
        built.append(FatalAtCommit(producer) if not built else producer)
        return built[-1]

    monkeypatch.setattr(streams.app, "build_producer", build_producer)
    settings = FanoutSettings(
        **{
            **pipeline.settings.model_dump(include={"kafka_bootstrap", "database_url", "topic_prefix", "group_prefix"}),
            "metrics_port": 0,
            "session_timeout_ms": 6000,
        }
    )
    engine, store = build_engine(settings.database_url), SchemaStore()
    fanout = Fanout(DirectoryLoader(engine), AvroSerde(PUSH_REQUEST, store), settings.topic(PUSH))
    runtime = streams.app.build_runtime(
        settings,
        processor=fanout,
        group="fanout",
        topics=[ACTIVITY],
        dead_letters={ACTIVITY: ACTIVITY_DLQ},
        decode=Decoder(AvroSerde(ACTIVITY_EVENT, store), ActivityEvent.from_avro),
        sink=NotificationSink(engine),
        transactional=True,
        pipelined=True,
    )
    loop = threading.Thread(target=runtime.run)
    loop.start()
    try:
        wait_until(lambda: lag(pipeline, "fanout") == 0, 90, what="the fan-out to catch up")
    finally:
        runtime.stop()
        loop.join(40)

    assert built[0].failed == 1 and len(built) == 2  # one fatal commit, one new producer
    bell, now, _ = expected_outcomes(events, Directory.from_changes(changes), {})
    ids = [e.event_id for e in events]
    got_bell = set(
        query(pipeline, "SELECT event_id, user_id FROM user_notifications WHERE event_id = ANY(:ids)", ids=ids)
    )
    pushes = [(p.event_id, p.user_id) for p in decode_pushes(read_all(pipeline, PUSH))]
    assert len(now) > 20, "the scenario must push"
    assert got_bell == bell
    assert sorted(pushes) == sorted(now)  # the aborted transaction's pushes are not visible; the redo's are, once
