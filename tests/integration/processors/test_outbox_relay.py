"""``herald run outbox-relay`` (real processes) between a scratch EMR database and the real broker: an
event reaches Kafka if and only if its transaction committed, one row downstream per event across a
crash between publish and delete, per-patient order across relays and a broker outage, poison rows
dead-lettered without holding back the rest."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from types import SimpleNamespace

import httpx
import psycopg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from cli.processes import stop_processor, wait_until
from streams import outbox, tracing
from streams.admin import create_topics
from streams.clients import build_admin
from streams.messages import ACTIVITY_EVENT, ActivityEvent, utcnow
from streams.serde import AvroSerde, SchemaStore
from streams.settings import KafkaSettings
from streams.topics import ACTIVITY, topic_specs
from tests.integration.helpers import count_rows, read_all, start, topic_size
from tests.integration.outbox_db import emr_database_url, libpq_url, outbox_rows  # noqa: F401 (fixture)
from tests.integration.throwaway_kafka import ThrowawayKafka
from tests.ports import free_port

pytestmark = pytest.mark.integration

SERDE = AvroSerde(ACTIVITY_EVENT, SchemaStore())
FIELDS = {"event_type": "LAB_RESULT_RECEIVED", "organization_id": "org-1", "title": "Potassium"}


def run_relay(pipeline, tmp_path, url: str, port: int = 0, **env: str):
    """A relay process on the test's topics and ``url``; ``port``: its /metrics, /readyz (0: none)."""
    return start(
        pipeline,
        "processors.outbox_relay",
        tmp_path,
        HERALD_OUTBOX_DATABASE_URL=url,
        HERALD_OUTBOX_POLL_S="0.5",
        HERALD_METRICS_PORT=str(port),
        **env,
    )


def events_on_topic(pipeline) -> list[ActivityEvent]:
    return [ActivityEvent.from_avro(SERDE.decode(m.value())) for m in read_all(pipeline, ACTIVITY)]


def in_order_per_patient(events: list[ActivityEvent], expected: dict[str, list[int]]) -> None:
    """Every expected event arrived, and each patient's first arrivals are in their commit order."""
    seen: dict[str, list[int]] = defaultdict(list)
    for e in events:
        n = int(e.attributes["n"])
        if n not in seen[e.patient_id or ""]:
            seen[e.patient_id or ""].append(n)
    assert dict(seen) == expected


def write_concurrently(url: str, patients: int, per_patient: int, threads: int = 4) -> dict[str, list[int]]:
    """Commits ``patients × per_patient`` transactions, one event each, from ``threads`` threads that share
    every patient (so one patient's writers race); returns each patient's numbers in commit order."""
    engine = create_engine(url, pool_size=threads)
    order: dict[str, list[int]] = defaultdict(list)
    guard = threading.Lock()
    jobs = [(f"pat-{i % patients}", i) for i in range(patients * per_patient)]

    def worker(mine: list[tuple[str, int]]) -> None:
        for patient, n in mine:
            with engine.connect() as conn:
                outbox.emit_activity_event(conn, patient_id=patient, attributes={"n": str(n)}, **FIELDS)
                with guard:  # the writer's key lock is held until commit: commit order is this order
                    conn.commit()
                    order[patient].append(n)

    workers = [threading.Thread(target=worker, args=(jobs[k::threads],)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    engine.dispose()
    return dict(order)


def scrape(port: int) -> dict[str, float]:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    return {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples if not s.labels}


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def outbox_empty(url: str) -> bool:
    return outbox_rows(url) == []


def test_committed_events_arrive_once_and_rolled_back_ones_never(pipeline, emr_database_url, tmp_path):  # noqa: F811
    # Given a relay and a persister
    run_relay(pipeline, tmp_path, emr_database_url)
    start(pipeline, "processors.persister", tmp_path)
    engine = create_engine(emr_database_url)

    # When events are written in committed and in rolled-back transactions, through each connection kind
    committed, rolled_back = [], []
    with Session(engine) as session, session.begin():
        committed.append(outbox.emit_activity_event(session, patient_id="pat-1", **FIELDS))
    with Session(engine) as session:
        rolled_back.append(outbox.emit_activity_event(session, patient_id="pat-1", **FIELDS))
        session.rollback()
    with engine.begin() as conn:
        committed.append(outbox.emit_activity_event(conn, patient_id="pat-2", **FIELDS))
    with engine.connect() as conn:
        rolled_back.append(outbox.emit_activity_event(conn, patient_id="pat-2", **FIELDS))
        conn.rollback()
    with psycopg.connect(libpq_url(emr_database_url)) as conn:
        committed.append(outbox.emit_activity_event(conn, **FIELDS))
        conn.commit()
        rolled_back.append(outbox.emit_activity_event(conn, **FIELDS))
        conn.rollback()

    # Then each committed event is one row downstream, and the outbox is drained
    wait_until(lambda: count_rows(pipeline, committed) == 3, 60, what="the committed events to be stored")
    wait_until(lambda: outbox_empty(emr_database_url), 10, what="the outbox to be drained")
    # and the topic holds exactly the committed events: the rolled-back ones were never rows to relay
    assert sorted(e.event_id for e in events_on_topic(pipeline)) == sorted(committed)
    assert count_rows(pipeline, rolled_back) == 0
    engine.dispose()


def test_a_traced_write_sends_its_trace_context_with_the_record(pipeline, emr_database_url, tmp_path):  # noqa: F811
    # Given tracing on in the writing process (an in-memory exporter) and a relay with tracing off
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        with psycopg.connect(libpq_url(emr_database_url)) as conn:
            traced = outbox.emit_activity_event(conn, patient_id="pat-t", **FIELDS)
            conn.commit()
    finally:
        tracing.disable()
    with psycopg.connect(libpq_url(emr_database_url)) as conn:
        untraced = outbox.emit_activity_event(conn, patient_id="pat-t", **FIELDS)
        conn.commit()
    run_relay(pipeline, tmp_path, emr_database_url)

    # Then the traced event's record carries the writer's publish span as its parent context
    wait_until(lambda: topic_size(pipeline, ACTIVITY) == 2, 60, what="both records on the topic")
    headers = {
        ActivityEvent.from_avro(SERDE.decode(m.value())).event_id: dict(m.headers() or [])
        for m in read_all(pipeline, ACTIVITY)
    }
    (span,) = exporter.get_finished_spans()
    assert span.name == "herald_outbox publish" and span.attributes["herald.event.id"] == str(traced)
    context = tracing.sampled_context(list(headers[traced].items()))
    assert context is not None
    assert (context.trace_id, context.span_id) == (span.context.trace_id, span.context.span_id)
    assert "traceparent" not in headers[untraced]  # not traced: no header bytes


def test_the_relay_sends_exactly_the_bytes_the_sdk_would(pipeline, emr_database_url, tmp_path):  # noqa: F811
    run_relay(pipeline, tmp_path, emr_database_url)
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:
        outbox.emit_activity_event(conn, patient_id="pat-7", **FIELDS)
    wait_until(lambda: topic_size(pipeline, ACTIVITY) == 1, 30, what="the record on the topic")
    [record] = read_all(pipeline, ACTIVITY)
    event = ActivityEvent.from_avro(SERDE.decode(record.value()))
    assert record.key() == b"pat-7" and record.value() == SERDE.encode(event.to_avro())
    engine.dispose()


def test_a_relay_killed_between_publish_and_delete_republishes_and_the_persister_stores_once(
    pipeline,
    emr_database_url,  # noqa: F811
    tmp_path,
):
    # Given committed events and a trigger that holds the relay's DELETE until the test lets it go
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:
        ids = [outbox.emit_activity_event(conn, patient_id=f"pat-{i % 5}", **FIELDS) for i in range(50)]
        conn.execute(
            text(
                "CREATE FUNCTION hold_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN NULL; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER hold_delete BEFORE DELETE ON herald_outbox FOR EACH STATEMENT EXECUTE FUNCTION hold_delete()"
            )
        )
    gate = engine.connect()
    gate.execute(text("SELECT pg_advisory_lock(4242)"))

    # When the relay has published them (the broker acknowledged) and is killed before its delete commits
    relay = run_relay(pipeline, tmp_path, emr_database_url)
    wait_until(lambda: topic_size(pipeline, ACTIVITY) == 50, 30, what="the first publication")
    relay.kill()
    relay.wait()
    gate.execute(text("SELECT pg_advisory_unlock(4242)"))
    gate.close()
    with engine.begin() as conn:  # waits for the dead relay's transaction to roll back
        conn.execute(text("DROP TRIGGER hold_delete ON herald_outbox"))
    assert len(outbox_rows(emr_database_url)) == 50  # the delete never committed

    # Then a new relay publishes them again, and the persister stores one row per event
    run_relay(pipeline, tmp_path, emr_database_url)
    start(pipeline, "processors.persister", tmp_path)
    wait_until(lambda: outbox_empty(emr_database_url), 30, what="the outbox to be drained")
    assert topic_size(pipeline, ACTIVITY) == 100
    wait_until(lambda: count_rows(pipeline, ids) == 50, 60, what="the events to be stored")
    with create_engine(pipeline.settings.database_url).connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM activity_events WHERE event_id = ANY(:ids)"), {"ids": ids}
        ).scalar_one()
    assert stored == 50
    engine.dispose()


def test_two_relays_keep_each_patients_order_and_lose_nothing(pipeline, emr_database_url, tmp_path):  # noqa: F811
    # Given two relays with small batches, so both take part
    ports = [free_port(), free_port()]
    for port in ports:
        run_relay(pipeline, tmp_path, emr_database_url, port, HERALD_OUTBOX_BATCH_SIZE="20")
    wait_until(lambda: all(ready(p) for p in ports), 30, what="both relays ready")

    # When 1,200 transactions over 12 patients commit from 4 threads while they run
    expected = write_concurrently(emr_database_url, patients=12, per_patient=100)

    # Then every event arrives once, each patient's in commit order, and both relays sent some
    wait_until(lambda: outbox_empty(emr_database_url), 60, what="the outbox to be drained")
    events = events_on_topic(pipeline)
    assert len(events) == 1200 == len({e.event_id for e in events})
    in_order_per_patient(events, expected)
    published = [scrape(p)["herald_outbox_published_total"] for p in ports]
    assert sum(published) == 1200 and all(published), published


def test_a_poison_row_is_dead_lettered_and_the_rows_behind_it_flow(pipeline, emr_database_url, tmp_path):  # noqa: F811
    # Given, for one patient: an event, a payload no reader can decode, a record too large for the broker,
    # and another event
    engine = create_engine(emr_database_url)
    too_large = ActivityEvent(uuid.uuid4(), "NOTE_ADDED", utcnow(), "org-1", "a note", patient_id="pat-p")
    huge = SERDE.encode({**too_large.to_avro(), "description": "x" * 2_000_000})
    with engine.begin() as conn:
        first = outbox.emit_activity_event(conn, patient_id="pat-p", **FIELDS)
        for payload, event_id in ((b"\xc3\x01not avro", uuid.uuid4()), (huge, too_large.event_id)):
            conn.execute(
                text(
                    "INSERT INTO herald_outbox (id, aggregatetype, aggregateid, type, payload) "
                    "VALUES (:id, 'patient', 'pat-p', 'NOTE_ADDED', :payload)"
                ),
                {"id": event_id, "payload": payload},
            )
        last = outbox.emit_activity_event(conn, patient_id="pat-p", **FIELDS)

    # When the relay runs
    port = free_port()
    run_relay(pipeline, tmp_path, emr_database_url, port)

    # Then both poison rows are in the dead-letter table with their reasons, and the events flowed
    wait_until(lambda: outbox_empty(emr_database_url), 30, what="the outbox to be drained")
    assert [e.event_id for e in events_on_topic(pipeline)] == [first, last]
    with engine.connect() as conn:
        reasons = dict(conn.execute(text("SELECT id, reason FROM herald_outbox_dead")).all())
    assert reasons[too_large.event_id].startswith("refused: MSG_SIZE_TOO_LARGE")
    assert [r for i, r in reasons.items() if i != too_large.event_id][0].startswith("undecodable:")
    dead = {
        s.labels["reason"]: s.value
        for f in text_string_to_metric_families(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        for s in f.samples
        if s.name == "herald_outbox_dead_lettered_total"
    }
    assert dead == {"undecodable": 1.0, "refused": 1.0}
    engine.dispose()


def test_the_relay_survives_its_database_going_away_and_resumes_by_itself(pipeline, emr_database_url, tmp_path):  # noqa: F811
    # Given a running relay
    port = free_port()
    run_relay(pipeline, tmp_path, emr_database_url, port, HERALD_READY_MAX_FAILED_BATCHES="1")
    wait_until(lambda: ready(port), 30, what="the relay to be ready")
    name = emr_database_url.rsplit("/", 1)[1]
    admin = create_engine(pipeline.settings.database_url, isolation_level="AUTOCOMMIT")

    # When its database refuses connections and its sessions are ended
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
    try:
        # Then it is not ready, and stays alive
        wait_until(lambda: not ready(port), 30, what="the relay to report not ready")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert pipeline.processes[0].poll() is None

    # And once the database is back, it relays a commit by itself
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:
        event_id = outbox.emit_activity_event(conn, patient_id="pat-db", **FIELDS)
    wait_until(lambda: ready(port), 60, what="the relay to be ready again")
    wait_until(lambda: topic_size(pipeline, ACTIVITY) == 1, 60, what="the event after the outage")
    assert [e.event_id for e in events_on_topic(pipeline)] == [event_id]
    engine.dispose()
    admin.dispose()
    stop_processor(pipeline.processes[0])


def test_a_broker_outage_holds_1000_commits_and_the_relay_sends_them_in_order_once_it_is_back(
    pipeline,
    emr_database_url,  # noqa: F811
    tmp_path,
):
    # Given a relay producing to a broker of its own (the shared broker is never stopped), and one event
    # through, so the relay has a working producer when the broker dies
    kafka = ThrowawayKafka(tmp_path / "kafka")
    kafka.format()
    kafka.start()
    own = SimpleNamespace(settings=KafkaSettings(kafka_bootstrap=kafka.bootstrap, topic_prefix="outage."))
    own.topic = own.settings.topic
    create_topics(build_admin(own.settings), own.settings, [s for s in topic_specs(partitions=4) if s.base == ACTIVITY])
    port = free_port()
    relay = run_relay(
        pipeline,
        tmp_path,
        emr_database_url,
        port,
        HERALD_KAFKA_BOOTSTRAP=kafka.bootstrap,
        HERALD_TOPIC_PREFIX="outage.",
        HERALD_OUTBOX_DELIVERY_TIMEOUT_MS="2000",
        HERALD_OUTBOX_RETRY_CAP_S="2",
        HERALD_READY_MAX_FAILED_BATCHES="1",
    )
    engine = create_engine(emr_database_url)
    with engine.begin() as conn:
        outbox.emit_activity_event(conn, patient_id="pat-0", attributes={"n": "-1"}, **FIELDS)
    wait_until(lambda: outbox_empty(emr_database_url) and ready(port), 30, what="the first event through")

    try:
        # When the broker dies, the idle relay turns not ready (it could not send the next commit)
        kafka.kill()
        wait_until(lambda: not ready(port), 30, what="the idle relay to report not ready")
        # and 1,000 transactions over 20 patients commit from 4 threads
        expected = write_concurrently(emr_database_url, patients=20, per_patient=50)

        # Then the relay keeps every row, stays not ready and alive
        wait_until(lambda: scrape(port)["herald_outbox_failures_total"] >= 1, 30, what="a pass to fail")
        assert not ready(port)
        assert len(outbox_rows(emr_database_url)) == 1000
        assert relay.poll() is None

        # And once the broker is back, it sends all of them by itself, each patient's in commit order
        kafka.start()
        wait_until(lambda: outbox_empty(emr_database_url), 90, what="the relay to drain the outbox")
        wait_until(lambda: ready(port), 30, what="the relay to be ready again")
        events = events_on_topic(own)
        expected["pat-0"] = [-1, *expected["pat-0"]]
        in_order_per_patient(events, expected)
        assert len({e.event_id for e in events}) == 1001
        assert relay.poll() is None
    finally:
        stop_processor(relay)
        kafka.stop()
        engine.dispose()
