"""The whole pipeline on the local stack, for parts 4 (latency) and 5 (crash) of `make bench`.

A scratch database and topic prefix; the demo world's directory loaded through the directory
processor; every demo user with 1–2 device tokens and preferences that push from NORMAL up with
quiet hours off (so most notifying events become pushes, and none is held); an FCM emulator of our
own; persister, fan-out (exactly-once) and push sender as subprocesses with their default settings (one
replica each unless asked), each with an instance id (HERALD_INSTANCE_ID=<name>-<i>, as a pod name would
be): static group members. Measurements start once every group is stable with each replica owning
partitions (``ready``).

Row visibility is observed at commit: a statement trigger on activity_events sends
``pg_notify('bench_rows', <the transaction's now() in µs>)``, which Postgres delivers when (and only
if) the inserting transaction commits; every row of that transaction carries the same ``received_at``
(= now()), so a listener's arrival time per received_at is the moment those rows became visible.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg
from confluent_kafka import ConsumerGroupState
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import bench_settings, env_of, scratch_database
from bench.fanout import load_directory, producer_settings
from cli.demo_push import caught_up
from cli.processes import start_processor, stop_processor
from cli.produce import register_demo_devices
from deploy.fcm_emulator.harness import FcmEmulator
from processors.catalogue import DEFAULT_ENABLED_TYPES
from processors.demo.traffic import DemoWorld, build_world, demo_events
from processors.registry import PROCESSES
from streams.admin import group_lag
from streams.clients import build_admin
from streams.messages import ActivityEvent
from streams.producer import ActivityPublisher
from streams.topics import PUSH

SEED = 7  # the demo world's seed (register_demo_devices builds the same world from it)
# The pipeline's consumer-group stages, with module and input from the process registry.
PROCESSORS = {name: PROCESSES[name].module for name in ("persister", "fanout", "push-sender")}
INPUT = {name: PROCESSES[name].inputs[0] for name in PROCESSORS}
_TRIGGER = """
CREATE OR REPLACE FUNCTION bench_notify_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('bench_rows', (extract(epoch FROM now()) * 1000000)::bigint::text); RETURN NULL; END $$;
DROP TRIGGER IF EXISTS bench_notify_rows ON activity_events;
CREATE TRIGGER bench_notify_rows AFTER INSERT ON activity_events FOR EACH STATEMENT EXECUTE FUNCTION bench_notify_rows();
"""


class CommitListener:
    """LISTENs for bench_rows in a thread: received_at (µs) → wall time the rows became visible."""

    def __init__(self, database_url: str) -> None:
        dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute("LISTEN bench_rows")
        self.visible: dict[int, float] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._stopping:
            for note in self._conn.notifies(timeout=0.5):
                self.visible.setdefault(int(note.payload), time.time())

    def close(self) -> None:
        self._stopping = True
        self._thread.join(5)
        self._conn.close()


@dataclass
class Pipeline:
    settings: object
    world: DemoWorld
    emulator: FcmEmulator
    logs: Path
    listener: CommitListener
    procs: dict[str, list[subprocess.Popen]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # extra HERALD_* settings of every processor
    replicas: dict[str, int] = field(default_factory=dict)  # processes per processor (default 1)
    rng: random.Random = field(default_factory=lambda: random.Random(SEED + 100))
    _admin: object = None

    def start(self, name: str) -> None:
        """Starts every replica of ``name``, each named as a pod would be (``<name>-<i>``): static members,
        so a restart takes the partitions back at once."""
        self.procs[name] = []
        for _ in range(self.replicas.get(name, 1)):
            self._start_replica(name)

    def add_replica(self, name: str) -> None:
        """One more replica of ``name`` (scale-out); ``settled`` then waits for it to own partitions."""
        self.replicas[name] = self.replicas.get(name, 1) + 1
        self._start_replica(name)

    def _start_replica(self, name: str) -> None:
        i = len(self.procs[name])
        env = env_of(self.settings, HERALD_FCM_ENDPOINT=self.emulator.url, HERALD_INSTANCE_ID=f"{name}-{i}", **self.env)
        self.procs[name].append(start_processor(PROCESSORS[name], env=env, log_path=str(self.logs / f"{name}-{i}.log")))

    def kill(self, name: str) -> None:
        """SIGKILL every replica: no batch finished, no offsets committed, no transaction ended."""
        for proc in self.procs[name]:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for procs in self.procs.values():
            for proc in procs:
                stop_processor(proc)
        self.listener.close()
        self.emulator.stop()

    def events(self, count: int) -> list[ActivityEvent]:
        return list(demo_events(self.world, self.rng, count, datetime.now(timezone.utc)))

    def offsets(self, name: str) -> dict[int, tuple[int, int]]:
        """(committed, end) per partition of the group's input topic; end is the last stable offset."""
        return {r.partition: (r.committed, r.end) for r in self._lag_rows(name)}

    def lag(self, name: str) -> int:
        return sum(r.messages for r in self._lag_rows(name))

    def admin(self):
        """The pipeline's Kafka admin client, built on first use."""
        if self._admin is None:
            self._admin = build_admin(self.settings)
        return self._admin

    def _lag_rows(self, name: str):
        return group_lag(self.settings, self.settings.group(name), self.settings.topic(INPUT[name]))

    def settled(self) -> bool:
        """Every processor's group is stable with each replica owning partitions: a group that is still
        forming (a second replica joining takes two cooperative rounds, seconds each) leaves partitions
        unowned meanwhile, which is start-up, not the steady state a benchmark measures."""
        groups = [self.settings.group(name) for name in PROCESSORS]
        for name, future in zip(
            PROCESSORS, self.admin().describe_consumer_groups(groups, request_timeout=10).values(), strict=True
        ):
            group = future.result(20)
            owners = [m for m in group.members if m.assignment and m.assignment.topic_partitions]
            if group.state != ConsumerGroupState.STABLE or len(owners) != self.replicas.get(name, 1):
                return False
        return True

    def ready(self) -> bool:
        """Started: every group settled (above) and caught up."""
        return self.settled() and self.caught_up()

    def caught_up(self) -> bool:
        """Every processor has committed past the last record of its input."""
        return self.lag("persister") == 0 and self.lag("fanout") == 0 and caught_up(self.settings, "push-sender", PUSH)

    def pushes(self) -> list[dict]:
        return httpx.get(f"{self.emulator.url}/emulator/messages", timeout=60).json()["messages"]

    def clear_pushes(self) -> None:
        httpx.delete(f"{self.emulator.url}/emulator/messages", timeout=10).raise_for_status()


def build_pipeline(name: str, env: dict[str, str] | None = None, replicas: dict[str, int] | None = None) -> Pipeline:
    """Sets up everything and starts the three processors (they are idle on empty topics)."""
    database_url = scratch_database(f"herald_bench_{name}")
    settings = bench_settings(database_url)
    logs = Path(f"/tmp/{settings.topic_prefix.rstrip('.')}-logs")
    logs.mkdir(exist_ok=True)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(_TRIGGER))
    now = datetime.now(timezone.utc)
    world = build_world(random.Random(SEED), now)
    load_directory(settings, world.directory(now))
    allow_pushes(engine, world)
    engine.dispose()
    register_demo_devices(database_url, None, seed=SEED)
    pipeline = Pipeline(
        settings,
        world,
        FcmEmulator.start(logs / "emulator.log"),
        logs,
        CommitListener(database_url),
        env=env or {},
        replicas=replicas or {},
    )
    for proc in PROCESSORS:
        pipeline.start(proc)
    return pipeline


def allow_pushes(engine, world: DemoWorld) -> None:
    """Every user: push on, the default types, from NORMAL up, no quiet hours."""
    rows = [{"u": u.user_id, "types": sorted(DEFAULT_ENABLED_TYPES)} for org in world.organizations for u in org.users]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notification_preferences (user_id, push_enabled, email_enabled, enabled_types, "
                "min_push_priority) VALUES (:u, true, false, :types, 'NORMAL')"
            ),
            rows,
        )


class Load:
    """An open-loop load generator: events published at ``rate``/s (0: as fast as the producer goes) until
    ``stop()`` or ``count`` events.

    The generator shares the machine's two cores with the pipeline, so it does its own work ahead of
    time: events are built and Avro-encoded (the SDK's serde) before their publish time, and a paced
    publish is one ``produce()`` of ready bytes (about half the CPU of building and encoding each event at
    its time; measured in docs/benchmarks.md). Each event is stamped with its
    *scheduled* publish time (``occurred_at`` = start + i/rate), and latencies count from that time,
    so a publish that comes late (the generator starved of CPU) counts against the pipeline instead of
    hiding (no coordinated omission). With ``count``, every event is prepared before the first is
    published; without (``start``), a second's worth at a time; a burst (rate 0), 100 at a time as it goes.
    """

    def __init__(self, pipeline: Pipeline, rate: float, publisher: ActivityPublisher | None = None) -> None:
        self._pipeline = pipeline
        self._rate = rate
        self._failures: list = []
        self._publisher = publisher or ActivityPublisher.from_settings(
            producer_settings(pipeline.settings), on_failure=self._failures.append
        )
        self.published: dict[uuid.UUID, float] = {}  # event id -> scheduled publish time (epoch s)
        self.notify: set[uuid.UUID] = set()
        self.started: float | None = None  # the first event's scheduled time; a burst's: when run() began (epoch s)
        self.finished: float | None = None  # when the last produce() returned (epoch s)
        self._next: float | None = None  # the next event's scheduled time
        self._stopping = False
        self._thread: threading.Thread | None = None

    def run(self, count: int | None = None) -> None:
        """Publishes in the calling thread (bounded by ``count``) — or use ``start`` for a thread."""
        if self._rate <= 0:
            self.started = time.time()  # a burst counts from here, building included (as before)
        chunk = _BURST_CHUNK if self._rate <= 0 else count if count is not None else max(int(self._rate), 100)
        sent = 0
        while not self._stopping and (count is None or sent < count):
            n = chunk if count is None else min(chunk, count - sent)
            self._publish(self._prepare(n))
            sent += n
        self.finished = time.time()

    def achieved(self) -> float:
        """Events/s from the first publish to the last (n events span n - 1 intervals)."""
        return (len(self.published) - 1) / max(self.finished - self.started, 1e-9)

    def _prepare(self, count: int) -> list[tuple[ActivityEvent, bytes, float]]:
        """``count`` events with their encoded record and scheduled time. The first batch starts once it
        is encoded (``_ENCODE_S`` an event; a late start only counts against us). A burst's events are due
        at once."""
        events = self._pipeline.events(count)
        if self._next is None or self._rate <= 0:
            self._next = time.time() + (0.05 + count * _ENCODE_S if self._rate > 0 else 0.0)
        interval = 1 / self._rate if self._rate > 0 else 0.0
        out = []
        for i, event in enumerate(events):
            at = self._next + i * interval
            event = replace(event, occurred_at=datetime.fromtimestamp(at, timezone.utc))
            out.append((event, self._publisher.encode(event), at))
        self._next += count * interval
        return out

    def _publish(self, prepared: list[tuple[ActivityEvent, bytes, float]]) -> None:
        publisher, topic = self._publisher.publisher, self._publisher.topic
        for event, value, at in prepared:
            if self._stopping:
                return
            ahead = at - time.time()
            if ahead > 0:
                time.sleep(ahead)  # pacing: never before the scheduled time, which is the stamp
            publisher.publish(topic, event.key, value)
            if self.started is None:
                self.started = at
            self.published[event.event_id] = at
            if event.notify:
                self.notify.add(event.event_id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Stops publishing; returns the events not acknowledged by the broker (failures + pending)."""
        self._stopping = True
        if self._thread is not None:
            self._thread.join()
        return self._publisher.close(60) + len(self._failures)


_ENCODE_S = 50e-6  # building and encoding one event here takes ~25 µs; twice that, to start on time
# A burst (rate 0) builds, encodes and publishes 100 events at a time, so that preparing a whole burst up
# front does not change the maximum (and the offered load derived from it).
_BURST_CHUNK = 100
