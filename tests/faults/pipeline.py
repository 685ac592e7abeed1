"""The whole pipeline on the fault suite's services, steady load with known event ids, and the audit.

Every processor (persister, directory, fan-out, push sender, scheduler, reconciler, lag exporter) runs
as ``herald run NAME`` under ``cli.supervisor.Supervisor``, the way ``herald run all`` runs them: a
child that dies is started again by the supervisor, never by the test, and the test reports how
often that happened. Each gets its own metrics port (its ``/readyz`` and ``/metrics`` are read) and
an instance id (static membership, as a pod would have). The world is the demo world with every user
pushing from NORMAL up and no quiet hours, so most notifying events become pushes at once.

The load is ``bench.pipeline.Load``: paced, pre-encoded publishes through the SDK, recording every
acknowledged-or-pending event id, so the audit knows exactly what was published.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from bench.pipeline import Load, allow_pushes
from cli.demo_push import caught_up
from cli.processes import wait_until
from cli.produce import register_demo_devices
from cli.supervisor import Supervisor, herald_child
from processors.demo.traffic import build_world, demo_events
from processors.persister.settings import PersisterSettings
from streams.admin import create_topics, group_lag
from streams.clients import build_admin
from streams.messages import DIRECTORY_CHANGE
from streams.producer import Publisher
from streams.serde import AvroSerde, SchemaStore
from streams.settings import ProducerSettings
from streams.topics import ACTIVITY, DIRECTORY, PUSH, topic_specs
from tests.faults.cluster import FaultFcm, FaultKafka
from tests.ports import free_port

SEED = 7  # the demo world's seed (register_demo_devices builds the same world from it)
PROCESSES = ("persister", "directory", "fanout", "push-sender", "scheduler", "reconciler", "lag-exporter")
INPUT = {"persister": ACTIVITY, "fanout": ACTIVITY, "push-sender": PUSH, "directory": DIRECTORY}
# push_status of a bell row whose push was decided at once (not bell-only, not held for quiet hours)
NOT_PUSHED = ("none", "held", "digest", "dropped")


@dataclass
class FaultPipeline:
    kafka: FaultKafka
    fcm: FaultFcm
    settings: PersisterSettings
    logs: Path
    ports: dict[str, int] = field(default_factory=dict)
    supervisor: Supervisor | None = None
    supervisor_lines: list[str] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(SEED + 100))

    # -- set-up ------------------------------------------------------------------------------------

    @classmethod
    def build(cls, kafka: FaultKafka, fcm: FaultFcm, database_url: str, logs: Path) -> FaultPipeline:
        prefix = f"faults{uuid.uuid4().hex[:8]}"
        settings = PersisterSettings(
            kafka_bootstrap=kafka.bootstrap,
            database_url=database_url,
            topic_prefix=f"{prefix}.",
            group_prefix=f"{prefix}-",
        )
        create_topics(build_admin(settings), settings, topic_specs())
        logs.mkdir(parents=True, exist_ok=True)
        pipeline = cls(kafka, fcm, settings, logs)
        now = datetime.now(UTC)
        pipeline.world = build_world(random.Random(SEED), now)
        pipeline._publish_directory(now)
        engine = create_engine(database_url)
        allow_pushes(engine, pipeline.world)
        engine.dispose()
        register_demo_devices(database_url, None, seed=SEED)
        pipeline.start()
        return pipeline

    def _publish_directory(self, now) -> None:
        serde = AvroSerde(DIRECTORY_CHANGE, SchemaStore())
        with Publisher(self.producer_settings()) as publisher:
            for change in self.world.directory(now):
                publisher.publish(self.settings.topic(DIRECTORY), change.key, serde.encode(change.to_avro()))

    def producer_settings(self) -> ProducerSettings:
        return ProducerSettings(
            kafka_bootstrap=self.settings.kafka_bootstrap,
            topic_prefix=self.settings.topic_prefix,
            producer_buffer_max_messages=1_000_000,
        )

    def env(self) -> dict[str, str]:
        s = self.settings
        return {
            "HERALD_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "HERALD_DATABASE_URL": s.database_url,
            "HERALD_TOPIC_PREFIX": s.topic_prefix,
            "HERALD_GROUP_PREFIX": s.group_prefix,
            "HERALD_FCM_ENDPOINT": self.fcm.url,
            "HERALD_LAG_INTERVAL_S": "5",
        }

    def start(self) -> None:
        self.ports = {name: free_port() for name in PROCESSES}
        children = [
            herald_child(
                name,
                {**self.env(), "HERALD_METRICS_PORT": str(self.ports[name]), "HERALD_INSTANCE_ID": f"{name}-0"},
                str(self.logs / f"{name}.log"),
            )
            for name in PROCESSES
        ]
        self.supervisor = Supervisor(children, report=self.supervisor_lines.append).start()

    def stop(self) -> dict[str, int | None]:
        return self.supervisor.stop() if self.supervisor else {}

    def wait_started(self, timeout: float = 180) -> None:
        """Every process ready, the directory loaded, every consumer group caught up."""
        wait_until(
            lambda: all(self.ready(n) for n in PROCESSES),
            timeout,
            interval=0.5,
            what=f"every process's /readyz (logs in {self.logs})",
        )
        wait_until(
            lambda: self.lag("directory") == 0 and self.lag("persister") == 0,
            timeout,
            interval=0.5,
            what="the directory to load",
        )

    # -- observing ---------------------------------------------------------------------------------

    def ready(self, name: str) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports[name]}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def metrics(self, name: str) -> str:
        return httpx.get(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=5).text

    def lag(self, name: str) -> int:
        rows = group_lag(self.settings, self.settings.group(name), self.settings.topic(INPUT[name]))
        return sum(r.messages for r in rows)

    def restarts(self) -> dict[str, int]:
        return {name: self.supervisor.restarts(name) for name in PROCESSES}

    def not_running(self) -> list[str]:
        return [name for name in PROCESSES if not self.supervisor.running(name)]

    def events(self, count: int):
        return list(demo_events(self.world, self.rng, count, datetime.now(UTC)))

    def load(self, rate: float) -> Load:
        """A started load generator at ``rate`` events/s (``Load`` only needs ``settings`` and ``events``)."""
        load = Load(self, rate)
        load.start()
        return load

    def drained(self) -> bool:
        """Every consumer committed past its input, no push retry waiting."""
        if self.lag("persister") or self.lag("fanout") or not caught_up(self.settings, "push-sender", PUSH):
            return False
        engine = create_engine(self.settings.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM push_retries")).scalar_one() == 0
        finally:
            engine.dispose()

    def steady_lag(self, seconds: float = 5.0) -> dict[str, int]:
        """The largest lag of each consumer group seen over ``seconds`` of the running load: what "back to
        steady" is measured against after a fault."""
        worst = {name: 0 for name in INPUT}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for name in INPUT:
                worst[name] = max(worst[name], self.lag(name))
            time.sleep(0.5)
        return worst


def watch_recovery(
    pipeline: FaultPipeline,
    since: float,
    limits: dict[str, int],
    timeout: float = 90.0,
) -> dict[str, float | None]:
    """Seconds from ``since`` (monotonic) until each process is back: consumers when their group's lag is
    within ``limits`` and the process's /readyz answers 200; the others (scheduler, reconciler, lag
    exporter) when /readyz answers 200. None: not back within ``timeout``."""
    back: dict[str, float | None] = {name: None for name in PROCESSES}
    deadline = since + timeout
    while time.monotonic() < deadline and any(v is None for v in back.values()):
        for name in PROCESSES:
            if back[name] is not None:
                continue
            try:
                ok = pipeline.ready(name) and (name not in INPUT or pipeline.lag(name) <= limits[name])
            except Exception:  # noqa: BLE001 - an admin call failing right after the return: not back yet
                ok = False
            if ok:
                back[name] = time.monotonic() - since
        time.sleep(0.25)
    return back


@dataclass
class Audit:
    events: int
    unacknowledged: int
    events_lost: int
    duplicate_rows: int
    fanout_lost: int
    pushes_expected: int
    pushes_lost: int
    pushes_pending: int
    deliveries: dict[str, int]
    emulator_duplicates: int  # (notification, token) pairs the emulator accepted more than once: at-least-once sends

    def line(self) -> str:
        return (
            f"events {self.events} (unacknowledged {self.unacknowledged}), lost {self.events_lost}, duplicate rows "
            f"{self.duplicate_rows}, never fanned out {self.fanout_lost}; pushes expected {self.pushes_expected}, "
            f"lost {self.pushes_lost}, bell rows still pending {self.pushes_pending}, deliveries {self.deliveries}"
            f", pushes accepted twice by the emulator {self.emulator_duplicates}"
        )


def audit(pipeline: FaultPipeline, load: Load, unacknowledged: int) -> Audit:
    """What the run lost or duplicated, from Postgres: events (activity_events), fan-outs
    (notification_sent_at), pushes ((notification, active token) pairs of bell rows whose push was
    decided, against push_deliveries rows with status 'sent': the sender's own record of delivery, which
    outlives an emulator restart)."""
    ids = list(load.published)
    engine = create_engine(pipeline.settings.database_url)
    try:
        with engine.connect() as conn:
            stored = set(
                conn.execute(
                    text("SELECT event_id FROM activity_events WHERE event_id = ANY(:ids)"), {"ids": ids}
                ).scalars()
            )
            unmarked = conn.execute(
                text(
                    "SELECT count(*) FROM activity_events WHERE event_id = ANY(:ids) AND notify "
                    "AND notification_sent_at IS NULL"
                ),
                {"ids": list(load.notify)},
            ).scalar_one()
            duplicates = conn.execute(
                text(
                    "SELECT (SELECT count(*) - count(DISTINCT event_id) FROM activity_events) + "
                    "(SELECT count(*) - count(DISTINCT notification_id) FROM user_notifications) + "
                    "(SELECT count(*) - count(DISTINCT (user_id, event_id)) FROM user_notifications)"
                )
            ).scalar_one()
            expected = {
                (str(n), t)
                for n, t in conn.execute(
                    text(
                        "SELECT u.notification_id, d.token FROM user_notifications u JOIN device_tokens d USING (user_id) "
                        "WHERE u.event_id = ANY(:ids) AND u.push_status <> ALL(:not_pushed) AND d.retired_at IS NULL"
                    ),
                    {"ids": ids, "not_pushed": list(NOT_PUSHED)},
                )
            }
            sent = {
                (str(n), t)
                for n, t in conn.execute(
                    text("SELECT notification_id, token FROM push_deliveries WHERE status = 'sent'")
                )
            }
            pending = conn.execute(
                text("SELECT count(*) FROM user_notifications WHERE event_id = ANY(:ids) AND push_status = 'pending'"),
                {"ids": ids},
            ).scalar_one()
            deliveries = dict(conn.execute(text("SELECT status, count(*) FROM push_deliveries GROUP BY 1")).all())
    finally:
        engine.dispose()
    accepted = Counter((m["message"]["data"]["notification_id"], m["token"]) for m in pipeline.fcm.messages())
    twice = sum(n - 1 for pair, n in accepted.items() if n > 1 and pair in expected)
    return Audit(
        len(ids),
        unacknowledged,
        len(set(ids) - stored),
        duplicates,
        unmarked,
        len(expected),
        len(expected - sent),
        pending,
        deliveries,
        twice,
    )


def exporter_matches_broker(pipeline: FaultPipeline, fresh_within: float = 20.0) -> tuple[bool, str]:
    """Whether the lag exporter's ``herald_group_committed_offset`` figures are the broker's.

    Offsets move under load, so the check brackets one collection: the broker's committed offsets
    (``Consumer.committed()`` of each group) read before it, the exporter's figures from a collection that
    began after that read (``herald_lag_exporter_last_success_timestamp_seconds``), and the broker's again
    after the scrape. Committed offsets only grow, so a correct exporter reports, per partition, a value
    between the two reads. Returns (correct, what differed)."""
    admin = build_admin(pipeline.settings)
    wanted = {}
    for group, base in INPUT.items():
        topic = pipeline.settings.topic(base)
        parts = sorted(admin.list_topics(topic, timeout=10).topics[topic].partitions)
        wanted[pipeline.settings.group(group)] = [(topic, p) for p in parts]
    read_at = time.time()
    before = {g: pipeline.kafka.committed(g, parts) for g, parts in wanted.items()}
    deadline = time.monotonic() + fresh_within
    while True:
        families = _scrape(pipeline)
        last = families.get("herald_lag_exporter_last_success_timestamp_seconds", {}).get((), 0.0)
        if last > read_at:
            break
        if time.monotonic() > deadline:
            return False, (
                f"no collection finished within {fresh_within:.0f} s (last success at {last:.0f}, "
                f"now {time.time():.0f})"
            )
        time.sleep(0.5)
    after = {g: pipeline.kafka.committed(g, parts) for g, parts in wanted.items()}
    exported = families.get("herald_group_committed_offset", {})
    wrong = []
    for group, parts in wanted.items():
        for topic, p in parts:
            low, high = before[group][(topic, p)], after[group][(topic, p)]
            if low < 0:
                continue  # nothing committed yet: the exporter shows the log start
            value = exported.get((("group", group), ("partition", str(p)), ("topic", topic)))
            if value is None or not low <= value <= high:
                wrong.append(f"{group} {topic}[{p}]: exporter {value}, broker {low}..{high}")
    return not wrong, "; ".join(wrong[:5]) + (f" (+{len(wrong) - 5} more)" if len(wrong) > 5 else "")


def _scrape(pipeline: FaultPipeline) -> dict[str, dict[tuple, float]]:
    """The lag exporter's /metrics: family name -> sorted label pairs -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(pipeline.metrics("lag-exporter")):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out
