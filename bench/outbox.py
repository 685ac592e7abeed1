"""The transactional outbox on the local stack (`make bench-outbox`): commit-to-topic latency, and the relay's
throughput through a backlog against the SDK's direct publish rate.

A scratch database stands in for the EMR's (``herald outbox install`` run on it, nothing else), and the
real relay runs as processes (``python -m processors.outbox_relay``, default settings: batch 500, poll
every 1 s, LISTEN on the outbox's channel).

0. commit ceiling: ``--writers`` threads commit one-event transactions as fast as they can for 5 s, a
   relay running: with the trigger dropped; with the trigger (it notifies only while the relay sleeps
   behind its gate); and with the gate held shut by the benchmark, so that every commit notifies.
   pg_notify takes PostgreSQL's cluster-wide notify lock from commit until the WAL flush, so notifying
   transactions commit one at a time: the third shows what the gate avoids. The notifications sent and
   what the writers' backends waited on are reported.
1. latency: ``--writers`` threads, each with its own psycopg connection, commit one-event transactions
   (``streams.outbox.emit_activity_event``, then ``commit()``) on a shared schedule of ``--rate`` per second
   for ``--seconds``; each writer notes the time its commit returned, per event id. A consumer assigned to
   every partition of the activity topic notes when each record reached it (its receive time: what a
   downstream service experiences) and the record's CreateTime (set by the relay's producer when it
   produced the record). Reported: receive − commit p50/p99/max, and CreateTime − commit. Run with the
   default wake-up (NOTIFY while the relay sleeps behind its gate; under load, passes back to back), and,
   for each ``--poll-s`` given, with the trigger dropped and ``HERALD_OUTBOX_POLL_S`` set (what a
   deployment without the trigger gets). Target: p99 < 100 ms with NOTIFY.
2. backlog: ``--backlog`` rows written with no relay running (COPY, 10,000 rows a transaction). The SDK
   first publishes the same events straight to the topic (``ActivityPublisher.publish`` as fast as it can,
   then flush): events/s to the last acknowledgement. Then the relays start while the benchmark holds an
   ACCESS EXCLUSIVE lock on the outbox table; once every relay's first claim waits on it, the lock is
   released and the clock starts (process start-up is left out, and reported apart); it stops when the
   outbox is empty (a relay deletes rows only after the broker acknowledged them), and the topic must
   then have grown by every row. Reported: events/s and relay/SDK. Target: ≥ 20,000 events/s.
   ``--phases`` drains the backlog once more with a relay in this process, its phases timed.

Usage: python bench/outbox.py [--rate 1000] [--seconds 20] [--writers 8] [--poll-s S ...] [--backlog 200000]
       [--relays 1 [2 ...]] [--batch-size N] [--phases] [--skip-latency] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from confluent_kafka import Consumer, KafkaException, TopicPartition  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import bench_settings, cpu_seconds, env_of, machine, scratch_emr_database  # noqa: E402
from bench.stats import percentile  # noqa: E402
from cli.outbox import install  # noqa: E402
from cli.processes import start_processor, stop_processor, wait_until  # noqa: E402
from processors.outbox_relay.settings import OutboxRelaySettings  # noqa: E402
from streams import outbox  # noqa: E402
from streams.messages import ACTIVITY_EVENT, ActivityEvent  # noqa: E402
from streams.outbox_schema import SLEEP_LOCK_CLASS  # noqa: E402
from streams.producer import ActivityPublisher, activity_event  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402
from streams.settings import ProducerSettings  # noqa: E402
from streams.topics import ACTIVITY  # noqa: E402

TABLE = "herald_outbox"
DEFAULT_POLL_S = OutboxRelaySettings.model_fields["outbox_poll_s"].default
DEFAULT_BUSY_S = OutboxRelaySettings.model_fields["outbox_busy_poll_s"].default
DEFAULT_BATCH = OutboxRelaySettings.model_fields["outbox_batch_size"].default
TARGET_P99_S = 0.100
TARGET_EVENTS_PER_S = 20_000
PATIENTS = 5_000  # keys the events spread over: writers of one patient wait for each other (decision 0191)
COPY_CHUNK = 10_000
CEILING_S = 5.0
APP = "herald_bench_outbox"  # the relays' application_name: finds their Postgres backends


def fields(n: int) -> dict:
    """One event's SDK keyword arguments: ids and codes only."""
    return {
        "event_type": "LAB_RESULT_RECEIVED",
        "organization_id": "org-bench",
        "patient_id": f"pat-{n % PATIENTS:05d}",
        "title": "Lab result received",
        "resource_type": "Observation",
        "resource_id": f"obs-{n}",
        "source": "bench-outbox",
    }


def libpq(url: str, application_name: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if application_name:
        parsed = parsed.update_query_dict({"application_name": application_name})
    return parsed.render_as_string(hide_password=False)


def sql(url: str, statement: str, params: dict | None = None):
    """One statement in its own autocommit connection; its first value, if it returns rows."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        cur = conn.execute(statement, params)
        row = cur.fetchone() if cur.description else None
        return None if row is None else row[0]


class Relays:
    """``count`` relay processes on the scratch outbox, each with its own application_name."""

    def __init__(self, settings, url: str, count: int, logs: Path, **env: str) -> None:
        self.names = [f"{APP}_{uuid.uuid4().hex[:6]}_{k}" for k in range(count)]
        self.started = time.time()
        self.procs = [
            start_processor(
                "processors.outbox_relay",
                env=env_of(settings, HERALD_OUTBOX_DATABASE_URL=_with_name(url, name), **env),
                log_path=str(logs / f"{name}.log"),
            )
            for name in self.names
        ]

    def waiting_on_lock(self, url: str) -> bool:
        """Every relay's pass waits for the table lock: it is started, connected and claiming."""
        assert all(p.poll() is None for p in self.procs), "a relay exited; see its log"
        waiting = sql(
            url,
            "SELECT count(DISTINCT application_name) FROM pg_stat_activity "
            "WHERE application_name = ANY(%(n)s) AND wait_event_type = 'Lock'",
            {"n": self.names},
        )
        return waiting == len(self.names)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            stop_processor(proc)


def _with_name(url: str, name: str) -> str:
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


class TopicReader:
    """A consumer on every partition of the activity topic from its current end: for each event id, when
    the record reached the benchmark (its receive time) and its CreateTime, in epoch seconds."""

    def __init__(self, settings) -> None:
        self.topic = settings.topic(ACTIVITY)
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": "bench-outbox-probe",
                "enable.auto.commit": False,
            }
        )
        ends = topic_ends(self.consumer, self.topic)
        self.consumer.assign([TopicPartition(self.topic, p, offset) for p, offset in ends.items()])
        self.serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
        self.received: dict[uuid.UUID, tuple[float, float]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            m = self.consumer.poll(0.1)  # not consume(n, timeout): it waits out its timeout for n records
            now = time.time()
            if m is None or m.error():
                continue
            event_id = ActivityEvent.from_avro(self.serde.decode(m.value())).event_id
            with self._lock:
                self.received.setdefault(event_id, (now, m.timestamp()[1] / 1000))

    def has(self, ids) -> bool:
        with self._lock:
            return all(i in self.received for i in ids)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.consumer.close()


def topic_ends(consumer: Consumer, topic: str) -> dict[int, int]:
    """The end offset of each partition; retried while a just-created topic's leaders are being elected."""
    deadline = time.monotonic() + 30
    while True:
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in sorted(partitions)
            }
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Writers:
    """One-event transactions on a shared schedule: the k-th is due at start + k / rate, taken by whichever
    writer thread is free (a writer running late does not hold back the schedule)."""

    def __init__(self, url: str, rate: float, seconds: float, threads: int) -> None:
        self.url, self.rate, self.total, self.threads = url, rate, int(rate * seconds), threads
        self.committed: dict[uuid.UUID, float] = {}
        self.late: list[float] = []  # commit start − due time: the writers keeping up with the schedule
        self._next = 0
        self._lock = threading.Lock()

    def run(self) -> float:
        """Writes every transaction; returns the achieved commit rate."""
        self.start = time.time() + 0.2
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return len(self.committed) / (max(self.committed.values()) - self.start)

    def _take(self) -> int | None:
        with self._lock:
            k, self._next = self._next, self._next + 1
        return k if k < self.total else None

    def _work(self) -> None:
        serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())  # the SDK's encoding without a registry
        with psycopg.connect(libpq(self.url)) as conn:
            while (k := self._take()) is not None:
                due = self.start + k / self.rate
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)  # the transaction's scheduled moment
                began = time.time()
                event_id = outbox.emit_activity_event(conn, serde=serde, **fields(k))
                conn.commit()
                done = time.time()
                with self._lock:
                    self.committed[event_id] = done
                    self.late.append(began - due)


CEILING_MODES = {  # a relay runs in each
    "raw": "trigger dropped",
    "relay": "trigger installed (it notifies only while the relay sleeps)",
    "always": "trigger installed, the gate held shut by the benchmark (every commit notifies)",
}


def commit_ceiling(settings, url: str, writers: int, seconds: float, mode: str, logs: Path) -> dict:
    """``writers`` threads committing one-event transactions as fast as they can (``mode``: CEILING_MODES):
    the commit rate, the notifications sent, and what the writers' backends waited on (pg_stat_activity,
    sampled every 10 ms)."""
    if mode == "raw":
        sql(url, f"DROP TRIGGER {TABLE}_notify ON {TABLE}")
    names = [f"{APP}_writer_{uuid.uuid4().hex[:6]}_{k}" for k in range(writers)]
    counts: list[int] = []
    waits: Counter[str] = Counter()
    relays = Relays(settings, url, 1, logs)
    gate = psycopg.connect(libpq(url), autocommit=True)
    gate.execute("LISTEN " + TABLE)
    if mode == "always":
        gate.execute(f"SELECT pg_advisory_lock({SLEEP_LOCK_CLASS}, hashtext('{TABLE}'))")
    with psycopg.connect(libpq(url)) as conn:  # the relay connected and passing: one row through first
        outbox.emit_activity_event(conn, **fields(0))
        conn.commit()
    wait_until(lambda: sql(url, f"SELECT count(*) FROM {TABLE}") == 0, 60, interval=0.05, what="the relay")
    for _ in gate.notifies(timeout=0.1):  # that row's notification, if any
        pass
    stop_at = time.time() + seconds

    def write(index: int, name: str) -> None:
        serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
        with psycopg.connect(libpq(url, name)) as conn:
            k = 0
            while time.time() < stop_at:  # writers on different patients: the per-key lock is not measured
                outbox.emit_activity_event(conn, serde=serde, **fields(k * writers + index))
                conn.commit()
                k += 1
        counts.append(k)

    def sample() -> None:
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            while time.time() < stop_at:
                for kind, what in conn.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE application_name = ANY(%(n)s) AND state = 'active'",
                    {"n": names},
                ):
                    waits[f"{kind}: {what}" if kind else "on CPU"] += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=write, args=(i, n)) for i, n in enumerate(names)]
    threads.append(threading.Thread(target=sample))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        notifications = sum(1 for _ in gate.notifies(timeout=0.5))
    finally:
        gate.close()
        relays.stop()
        if mode == "raw":
            install(url)
        sql(url, f"TRUNCATE {TABLE}")
    seen = sum(waits.values()) or 1
    return {
        "mode": mode,
        "writers": writers,
        "commits_per_s": sum(counts) / seconds,
        "notifying_share": notifications / max(sum(counts), 1),
        "waits": {name: n / seen for name, n in waits.most_common(4)},
    }


def summary(seconds: list[float]) -> dict:
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds, default=float("nan")) * 1000,
    }


def latency_phase(
    settings, url: str, rate: float, seconds: float, writers: int, notify: bool, poll_s: float | None, logs: Path
) -> dict:
    """Commit → record latency at ``rate`` transactions/s, woken by NOTIFY or by the poll alone (every
    ``poll_s``; None: the default)."""
    if not notify:
        sql(url, f"DROP TRIGGER {TABLE}_notify ON {TABLE}")
    reader = TopicReader(settings)
    env = {} if poll_s is None else {"HERALD_OUTBOX_POLL_S": str(poll_s)}
    relays = Relays(settings, url, 1, logs, **env)
    try:
        with psycopg.connect(libpq(url)) as conn:  # one event through the whole path first: all connected
            first = outbox.emit_activity_event(conn, **fields(0))
            conn.commit()
        wait_until(lambda: reader.has([first]), 60, interval=0.05, what="the first event on the topic")
        cpu = relays.cpu()
        load = Writers(url, rate, seconds, writers)
        achieved = load.run()
        wait_until(lambda: reader.has(load.committed), 60, interval=0.05, what="every committed event on the topic")
        relay_cpu = relays.cpu() - cpu
    finally:
        relays.stop()
        reader.close()
        if not notify:
            install(url)  # the trigger back
    received = [reader.received[i][0] - t for i, t in load.committed.items()]
    created = [reader.received[i][1] - t for i, t in load.committed.items()]
    return {
        "notify": notify,
        "poll_s": poll_s or DEFAULT_POLL_S,
        "transactions": len(load.committed),
        "achieved_rate": achieved,
        "writer_start_late": summary(load.late),
        "receive_minus_commit": summary(received),
        "createtime_minus_commit": summary(created),
        "relay_cpu_s_per_1000": relay_cpu / len(load.committed) * 1000,
    }


def backlog_events(count: int) -> list[ActivityEvent]:
    return [activity_event(**fields(n)) for n in range(count)]


def write_backlog(url: str, events: list[ActivityEvent]) -> float:
    """The events as outbox rows, COPY'd in transactions of COPY_CHUNK rows; returns the seconds taken."""
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    started = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn:
        for start in range(0, len(events), COPY_CHUNK):
            with conn.cursor() as cur:
                copy_sql = f"COPY {TABLE} (id, aggregatetype, aggregateid, type, payload) FROM STDIN"
                with cur.copy(copy_sql) as copy:
                    for event in events[start : start + COPY_CHUNK]:
                        row = outbox.outbox_row(event, serde)
                        copy.write_row(
                            (row["id"], row["aggregatetype"], row["aggregateid"], row["type"], row["payload"])
                        )
            conn.commit()
    sql(url, f"VACUUM ANALYZE {TABLE}")  # as a table that has been in use for a while would be
    return time.perf_counter() - started


def sdk_phase(settings, events: list[ActivityEvent]) -> dict:
    """The SDK publishing the same events straight to the topic as fast as it can, until flushed."""
    publisher = ActivityPublisher.from_settings(
        ProducerSettings(
            kafka_bootstrap=settings.kafka_bootstrap,
            topic_prefix=settings.topic_prefix,
            producer_buffer_max_messages=max(len(events), 100_000),
        )
    )
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-outbox-probe"})
    before = sum(topic_ends(probe, publisher.topic).values())
    started = time.perf_counter()
    refused = sum(not publisher.publish(e) for e in events)
    enqueued = time.perf_counter() - started
    pending = publisher.close(300)
    took = time.perf_counter() - started
    grown = sum(topic_ends(probe, publisher.topic).values()) - before
    probe.close()
    assert refused == 0 and pending == 0 and grown == len(events), (refused, pending, grown)
    return {"events": len(events), "seconds": took, "enqueue_s": enqueued, "events_per_s": len(events) / took}


def backlog_phase(
    settings, url: str, events: list[ActivityEvent], relays: int, logs: Path, batch_size: int | None
) -> dict:
    """``len(events)`` rows waiting, then ``relays`` relays let loose on them at once: events/s to empty.
    ``batch_size``: HERALD_OUTBOX_BATCH_SIZE (None: the default)."""
    written_s = write_backlog(url, events)
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-outbox-probe"})
    topic = settings.topic(ACTIVITY)
    before = sum(topic_ends(probe, topic).values())
    gate = psycopg.connect(libpq(url))
    gate.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    env = {} if batch_size is None else {"HERALD_OUTBOX_BATCH_SIZE": str(batch_size)}
    procs = Relays(settings, url, relays, logs, **env)
    try:
        wait_until(lambda: procs.waiting_on_lock(url), 60, interval=0.05, what="every relay to claim")
        startup_s = time.time() - procs.started
        cpu = procs.cpu()
        released = time.perf_counter()
        gate.rollback()
        wait_until(lambda: sql(url, f"SELECT NOT EXISTS (SELECT FROM {TABLE})"), 600, interval=0.05, what="the outbox")
        took = time.perf_counter() - released
        relay_cpu = procs.cpu() - cpu
    finally:
        gate.close()
        procs.stop()
    grown = sum(topic_ends(probe, topic).values()) - before
    probe.close()
    assert grown >= len(events), f"the topic grew by {grown}, not {len(events)}"
    return {
        "relays": relays,
        "batch_size": batch_size or DEFAULT_BATCH,
        "events": len(events),
        "backlog_written_s": written_s,
        "relay_startup_s": startup_s,
        "seconds": took,
        "events_per_s": len(events) / took,
        "records_on_topic": grown,
        "relay_cpu_us_per_event": relay_cpu / len(events) * 1e6,
    }


class TimedProducer:
    """The relay's producer, timing its ``produce`` calls and its ``flush`` (the wait for acknowledgements,
    in which the delivery callbacks run)."""

    def __init__(self, producer, timers: dict[str, float]) -> None:
        self._producer, self._timers = producer, timers

    def produce(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self._producer.produce(*args, **kwargs)
        finally:
            self._timers["produce calls"] += time.perf_counter() - started

    def flush(self, *args):
        started = time.perf_counter()
        try:
            return self._producer.flush(*args)
        finally:
            self._timers["flush (acknowledgements)"] += time.perf_counter() - started

    def __getattr__(self, name: str):
        return getattr(self._producer, name)


def relay_phases(settings, url: str, events: list[ActivityEvent], batch_size: int | None) -> dict:
    """The backlog drained by one relay in this process, its phases timed: the claim and the delete
    statements (SQLAlchemy's cursor events), the produce calls and the flush (a timing producer), the
    payload check (``payload_problem`` timed apart on the same payloads); the rest of a pass is its Python
    around them, the begin and the commit. Built as ``processors.outbox_relay.__main__.build_relay`` builds
    it, with the producer wrapped."""
    from sqlalchemy import event

    from processors.outbox_relay.app import OutboxRelay
    from processors.outbox_relay.verdicts import payload_problem
    from sinks.postgres.engine import build_engine
    from streams.clients import build_producer

    write_backlog(url, events)
    relay_settings = OutboxRelaySettings(
        outbox_database_url=url,
        kafka_bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
        outbox_batch_size=batch_size or DEFAULT_BATCH,
    )
    timers: defaultdict[str, float] = defaultdict(float)  # seconds per phase
    engine = build_engine(relay_settings.outbox_database_url, pool_size=2)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany) -> None:
        kind = (
            "claim"
            if statement.startswith("WITH claimed")
            else "delete"
            if statement.startswith("DELETE")
            else "other SQL"
        )
        timers[kind] += time.perf_counter() - conn.info.pop("started")

    timeout_ms = relay_settings.outbox_delivery_timeout_ms
    overrides: dict = {"delivery.timeout.ms": timeout_ms, "linger.ms": 5}
    producer = build_producer(relay_settings, **overrides)
    relay = OutboxRelay(
        engine,
        TimedProducer(producer, timers),
        AvroSerde(ACTIVITY_EVENT, SchemaStore()),
        relay_settings.topic(ACTIVITY),
        table=relay_settings.outbox_table,
        batch_size=relay_settings.outbox_batch_size,
        delivery_timeout_s=timeout_ms / 1000 + 1,
        count_interval_s=relay_settings.outbox_count_interval_s,
    )
    passes = 0
    started = time.perf_counter()
    while relay.tick() or sql(url, f"SELECT EXISTS (SELECT FROM {TABLE})"):
        passes += 1
    took = time.perf_counter() - started
    producer.flush(30)
    engine.dispose()
    serde = AvroSerde(ACTIVITY_EVENT, SchemaStore())
    payloads = [outbox.outbox_row(e, serde)["payload"] for e in events[:10_000]]
    checked = time.perf_counter()
    for payload in payloads:
        payload_problem(payload, serde)
    check_us = (time.perf_counter() - checked) / len(payloads) * 1e6
    us = {name: seconds / len(events) * 1e6 for name, seconds in timers.items()}
    us["payload check (timed apart)"] = check_us
    us["rest of the pass (Python, begin, commit)"] = took / len(events) * 1e6 - sum(us.values())
    return {"events": len(events), "passes": passes, "events_per_s": len(events) / took, "us_per_event": us}


def report_latency(phase: dict, rate: float) -> list[str]:
    r, c = phase["receive_minus_commit"], phase["createtime_minus_commit"]
    how = (
        f"default (NOTIFY while the relay sleeps, a look every {DEFAULT_BUSY_S * 1000:g} ms while writers are in flight)"
        if phase["notify"]
        else f"polling only (trigger dropped), HERALD_OUTBOX_POLL_S={phase['poll_s']:g}"
    )
    lines = [
        f"  latency, {how}: {phase['transactions']:,} transactions at {rate:,.0f}/s "
        f"(achieved {phase['achieved_rate']:,.0f}/s; writer start late p99 {phase['writer_start_late']['p99_ms']:.1f} ms)",
        f"     receive - commit     p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms",
        f"     CreateTime - commit  p50 {c['p50_ms']:7.1f} ms  p99 {c['p99_ms']:7.1f} ms  max {c['max_ms']:7.1f} ms",
        f"     relay CPU {phase['relay_cpu_s_per_1000']:.2f} s per 1,000 events",
    ]
    if phase["notify"]:
        met = r["p99_ms"] < TARGET_P99_S * 1000
        lines.append(f"     target p99 receive - commit < {TARGET_P99_S * 1000:.0f} ms: {'met' if met else 'MISSED'}")
    return lines


def report_ceiling(phase: dict) -> list[str]:
    waits = ", ".join(f"{name} {share:.0%}" for name, share in phase["waits"].items())
    return [
        f"  commit ceiling, {CEILING_MODES[phase['mode']]}: {phase['commits_per_s']:,.0f} commits/s from "
        f"{phase['writers']} writers; {phase['notifying_share']:.1%} of commits notified",
        f"     writers' backends: {waits}",
    ]


def report_backlog(run: dict) -> list[str]:
    b, sdk = run["relay"], run["sdk"]
    met = b["events_per_s"] >= TARGET_EVENTS_PER_S
    return [
        f"  backlog, {b['relays']} relay(s), batch {b['batch_size']}: {b['events']:,} rows (written in {b['backlog_written_s']:.1f} s; "
        f"relay start-up {b['relay_startup_s']:.1f} s, not counted)",
        f"     relay  {b['events_per_s']:>9,.0f} events/s ({b['seconds']:.2f} s; relay CPU "
        f"{b['relay_cpu_us_per_event']:.0f} µs per event)",
        f"     SDK    {sdk['events_per_s']:>9,.0f} events/s ({sdk['seconds']:.2f} s, enqueued in {sdk['enqueue_s']:.2f} s)",
        f"     relay / SDK {run['relay_over_sdk']:.2f}",
        f"     target >= {TARGET_EVENTS_PER_S:,} events/s: {'met' if met else 'MISSED'}",
    ]


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.1f}" for v in load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000, help="transactions/s of the latency part")
    parser.add_argument("--seconds", type=float, default=20, help="how long the latency part writes")
    parser.add_argument("--writers", type=int, default=8, help="writer threads (a connection each)")
    parser.add_argument("--backlog", type=int, default=200_000, help="rows of the throughput part")
    parser.add_argument(
        "--relays", type=int, nargs="+", default=[1], help="relay processes draining the backlog; one run each"
    )
    parser.add_argument(
        "--poll-s",
        type=float,
        nargs="*",
        default=[],
        help="also latency runs with the trigger dropped, the relay waking every POLL_S (or when its look at "
        "the table after a pass finds rows); one run each",
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="HERALD_OUTBOX_BATCH_SIZE of the backlog part (default: 500)"
    )
    parser.add_argument("--phases", action="store_true", help="also drain the backlog in-process, phases timed")
    parser.add_argument("--skip-latency", action="store_true", help="the throughput part only")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    url = scratch_emr_database("herald_bench_outbox")
    settings = bench_settings(url)
    logs = Path(tempfile.mkdtemp(prefix="herald-bench-outbox-"))
    print("outbox relay, default settings (batch 500, poll 1 s, linger 5 ms)", flush=True)
    latency, ceiling = [], []
    if not args.skip_latency:
        for mode in CEILING_MODES:
            ceiling.append(commit_ceiling(settings, url, args.writers, CEILING_S, mode, logs))
            print("\n".join(report_ceiling(ceiling[-1])), flush=True)
        for notify, poll_s in [(True, None), *((False, p) for p in args.poll_s)]:
            latency.append(latency_phase(settings, url, args.rate, args.seconds, args.writers, notify, poll_s, logs))
            print("\n".join(report_latency(latency[-1], args.rate)), flush=True)
    events = backlog_events(args.backlog)
    random.Random(3).shuffle(events)  # keys interleaved as a live EMR's would be
    backlog = []
    for relays in args.relays:
        sdk = sdk_phase(settings, events)
        relay = backlog_phase(settings, url, events, relays, logs, args.batch_size)
        backlog.append({"relay": relay, "sdk": sdk, "relay_over_sdk": relay["events_per_s"] / sdk["events_per_s"]})
        print("\n".join(report_backlog(backlog[-1])), flush=True)
    phases = None
    if args.phases:
        phases = relay_phases(settings, url, events, args.batch_size)
        print(f"  relay phases, in this process: {phases['events_per_s']:,.0f} events/s, {phases['passes']} passes")
        for name, us in sorted(phases["us_per_event"].items(), key=lambda kv: -kv[1]):
            print(f"     {name:<42} {us:6.1f} µs per event")
    load_at_end = os.getloadavg()
    print(f"load average {_load(load_at_start)} at the start, {_load(load_at_end)} at the end; relay logs: {logs}")
    if args.json:
        figures = {
            "rate": args.rate,
            "seconds": args.seconds,
            "writers": args.writers,
            "backlog": args.backlog,
            "load_average": [load_at_start, load_at_end],
            "commit_ceiling": ceiling,
            "latency": latency,
            "backlog_runs": backlog,
            "relay_phases": phases,
        }
        args.json.write_text(json.dumps({"machine": machine(), "at": time.time(), **figures}, indent=2))
        print(f"saved {args.json}")


if __name__ == "__main__":
    main()
