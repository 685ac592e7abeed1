"""The escalator on the local stack (`make bench-escalation`): how late steps fire, and acknowledgements.

One organization (20 practitioners, 60 nurses, 200 patients, each patient's care team its practitioner
and three nurses) overrides LAB_RESULT_CRITICAL with two steps: the practitioner, then the care team,
each waiting an hour. ``--alerts`` alerts are raised in-process with the fan-out's own planner and sink
(step 0 fired, step 1's timer set), and the real escalator runs as ``--replicas`` processes
(``python -m processors.escalator``, default settings: a tick every 0.25 s, 200 steps a transaction).

1. spread: every step-1 timer is moved to now + 5 s + uniform(0, 10 s); meanwhile a random half of the
   alerts is acknowledged the way the API does it (one transaction: lock the alert, state =
   'acknowledged', cancel its pending timers) on 16 threads, each at its step's due time + uniform(-1.5,
   +0.1) s: most while the step is pending, some racing the escalator's claim of that very alert. Reported: fired_at − due_at of
   every step fired (the escalator's clock at the start of the tick that fired it, as the
   herald_escalation_step_delay_seconds histogram sees it), the push requests' produce time − due_at (the
   records' CreateTime: when the work of the tick was done), and the steps fired after their alert was
   acknowledged: a timer both cancelled and fired, a step the acknowledgement cancelled that fired
   anyway, or a step fired by a tick that began after the acknowledgement committed. Must be 0.
2. catch-up: ``--alerts`` more alerts, every step-1 timer then made due at once (an escalator back after
   an outage): steps/s from the update to the last step fired, wall time per step (the run time
   divided by the steps), and CPU per step of the escalator processes and of their Postgres backends.
Push requests: the push topic's size (the escalator produces without transactions: one record each).
Target: p99 of fired_at − due_at < 1 s.

Usage: python bench/escalation.py [--alerts 5000] [--replicas 1 [2 ...]] [--json PATH]
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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import bench_settings, cpu_seconds, env_of, machine, scratch_database  # noqa: E402
from bench.stats import percentile  # noqa: E402
from cli.processes import start_processor, stop_processor, wait_until  # noqa: E402
from processors.fanout.app import Fanout  # noqa: E402
from processors.notifications_io.loader import DirectoryLoader  # noqa: E402
from sinks.postgres.notifications import NotificationSink  # noqa: E402
from streams.messages import PUSH_REQUEST, ActivityEvent, Priority, PushRequest  # noqa: E402
from streams.records import Record  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402
from streams.testing import FakeMessage  # noqa: E402
from streams.topics import PUSH  # noqa: E402

EVENT_TYPE = "LAB_RESULT_CRITICAL"
WAIT_S = 3600  # both steps: nothing falls due but what the benchmark makes due
POLICY = {
    "steps": [
        {"targets": [{"type": "practitioner"}], "wait_s": WAIT_S},
        {"targets": [{"type": "care_team"}], "wait_s": WAIT_S},
    ]
}
PRACTITIONERS, NURSES, PATIENTS = 20, 60, 200
SPREAD_START_S, SPREAD_S = 5.0, 10.0
ACK_EARLY_S, ACK_LATE_S = 1.5, 0.1  # an acknowledgement lands at due_at + uniform(-early, +late)
TARGET_P99_S = 1.0
APP = "herald_bench_escalator"  # the escalators' application_name: finds their Postgres backends
RAISE_CHUNK = 1000
ACK_WORKERS = 16


class Org:
    """The benchmark's organization, built with SQL (the directory tables are what the escalator reads)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.id = f"org-{uuid.uuid4().hex[:10]}"

    def uid(self, name: str) -> str:
        return f"{self.id}-{name}"

    def patient(self, n: int) -> str:
        return f"{self.id}-p{n:03d}"

    def practitioner(self, patient: int) -> str:
        return self.uid(f"doc{patient % PRACTITIONERS:02d}")

    def build(self) -> None:
        now = datetime.now(timezone.utc)
        users = [(self.uid(f"doc{i:02d}"), "physician") for i in range(PRACTITIONERS)]
        users += [(self.uid(f"nurse{i:02d}"), "nurse") for i in range(NURSES)]
        members = [
            (self.patient(p), user)
            for p in range(PATIENTS)
            for user in [self.practitioner(p), *(self.uid(f"nurse{(3 * p + k) % NURSES:02d}") for k in range(3))]
        ]
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO directory_users (user_id, organization_id, roles, active, changed_at) "
                    "VALUES (:u, :o, :r, true, :t)"
                ),
                [{"u": u, "o": self.id, "r": [role], "t": now} for u, role in users],
            )
            conn.execute(
                text(
                    "INSERT INTO care_team_members (patient_id, user_id, organization_id, active, changed_at) "
                    "VALUES (:p, :u, :o, true, :t)"
                ),
                [{"p": p, "u": u, "o": self.id, "t": now} for p, u in members],
            )
            conn.execute(
                text(
                    "INSERT INTO escalation_policies (organization_id, event_type, policy, updated_by) "
                    "VALUES (:o, :t, :p, 'bench')"
                ),
                {"o": self.id, "t": EVENT_TYPE, "p": json.dumps(POLICY)},
            )

    def critical(self, n: int) -> ActivityEvent:
        patient = n % PATIENTS
        return ActivityEvent(
            event_id=uuid.uuid4(),
            event_type=EVENT_TYPE,
            occurred_at=datetime.now(timezone.utc),
            organization_id=self.id,
            title="Critical result",
            patient_id=self.patient(patient),
            practitioner_user_id=self.practitioner(patient),
            actor_user_id=self.uid("lab"),
            resource_type="Observation",
            resource_id=f"obs-{n}",
            notify=True,
            priority=Priority.URGENT,
        )

    def raise_alerts(self, count: int) -> list[uuid.UUID]:
        """What the fan-out does with ``count`` critical results, in-process: plan (real loader) and write
        (real sink): the alerts, step 0 fired, step 1's timer an hour away."""
        fanout = Fanout(DirectoryLoader(self.engine), AvroSerde(PUSH_REQUEST, SchemaStore()), "unused")
        sink = NotificationSink(self.engine)
        ids: list[uuid.UUID] = []
        for start in range(0, count, RAISE_CHUNK):
            events = [self.critical(n) for n in range(start, min(count, start + RAISE_CHUNK))]
            outcome = fanout.handle([Record(e, FakeMessage("activity", 0, i, b"")) for i, e in enumerate(events)])
            sink.write(outcome.writes)
            ids += [e.event_id for e in events]
        return ids


def acknowledge(engine, event_id: uuid.UUID, user_id: str) -> bool:
    """As the API acknowledges: the alert row locked first (the lock order of sinks/postgres/alerts.py),
    then its state and its pending timers, in one transaction. True when it cancelled step 1."""
    with engine.begin() as conn:
        state = conn.execute(
            text("SELECT state FROM alerts WHERE event_id = :e FOR UPDATE"), {"e": event_id}
        ).scalar_one()
        if state != "open":
            return False
        conn.execute(
            text(
                "UPDATE alerts SET state = 'acknowledged', acknowledged_by = :u, closed_at = now() WHERE event_id = :e"
            ),
            {"e": event_id, "u": user_id},
        )
        cancelled = conn.execute(
            text(
                "UPDATE alert_steps SET cancelled_at = now() "
                "WHERE event_id = :e AND fired_at IS NULL AND cancelled_at IS NULL RETURNING step"
            ),
            {"e": event_id},
        ).scalars()
        return 1 in set(cancelled)


@dataclass
class Acknowledger:
    """Acknowledges alerts at given times, on ``workers`` threads with a connection each (as API workers
    would: an acknowledgement waiting for the escalator's lock on its alert holds up no other); records
    when each committed."""

    url: object
    plan: list[tuple[float, uuid.UUID, str]]  # (epoch seconds, alert, user)
    workers: int = ACK_WORKERS
    committed: dict[uuid.UUID, float] = field(default_factory=dict)
    cancelled_step_1: set[uuid.UUID] = field(default_factory=set)
    lateness: list[float] = field(default_factory=list)  # commit − planned time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> list[threading.Thread]:
        ordered = sorted(self.plan, key=lambda p: p[0])
        threads = [
            threading.Thread(target=self._run, args=(ordered[k :: self.workers],), daemon=True)
            for k in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        return threads

    def _run(self, plan: list[tuple[float, uuid.UUID, str]]) -> None:
        engine = create_engine(self.url, pool_size=1)
        try:
            for at, event_id, user in plan:
                delay = at - time.time()
                if delay > 0:
                    time.sleep(delay)  # the acknowledgement's scheduled moment
                cancelled = acknowledge(engine, event_id, user)
                done = time.time()
                with self._lock:
                    if cancelled:
                        self.cancelled_step_1.add(event_id)
                    self.committed[event_id] = done
                    self.lateness.append(done - at)
        finally:
            engine.dispose()


class Escalators:
    """``replicas`` escalator processes, each with its own application_name (its Postgres backends)."""

    def __init__(self, settings, replicas: int, logs: Path) -> None:
        self.names = [f"{APP}_{uuid.uuid4().hex[:6]}_{k}" for k in range(replicas)]
        url = make_url(settings.database_url)
        self.procs = [
            start_processor(
                "processors.escalator",
                env=env_of(
                    settings,
                    HERALD_DATABASE_URL=url.update_query_dict({"application_name": name}).render_as_string(
                        hide_password=False
                    ),
                ),
                log_path=str(logs / f"{name}.log"),
            )
            for name in self.names
        ]

    def backends(self, engine) -> list[int]:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = ANY(:n)"), {"n": self.names}
                ).scalars()
            )

    def connected(self, engine) -> bool:
        """Every replica has a Postgres session: it is past its set-up and ticking."""
        with engine.connect() as conn:
            names = set(
                conn.execute(
                    text("SELECT application_name FROM pg_stat_activity WHERE application_name = ANY(:n)"),
                    {"n": self.names},
                ).scalars()
            )
        assert all(p.poll() is None for p in self.procs), "an escalator exited; see its log"
        return names == set(self.names)

    def cpu(self, engine) -> tuple[dict[int, float], dict[int, float]]:
        """CPU seconds so far of each escalator process and of each of their Postgres backends."""
        return {p.pid: cpu_seconds(p.pid) for p in self.procs}, {b: _cpu_or_zero(b) for b in self.backends(engine)}

    def stop(self) -> None:
        for proc in self.procs:
            stop_processor(proc)


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except FileNotFoundError:
        return 0.0


def cpu_spent(before: tuple[dict[int, float], dict[int, float]], after) -> tuple[float, float]:
    """(escalator CPU s, Postgres backend CPU s) between two ``Escalators.cpu`` readings; a backend opened
    between them counts from zero."""
    procs, backends = (sum(v - b.get(pid, 0.0) for pid, v in a.items()) for b, a in zip(before, after, strict=True))
    return procs, backends


def pending_step_1(engine, ids: list[uuid.UUID]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM alert_steps WHERE event_id = ANY(:ids) AND step = 1 "
                "AND fired_at IS NULL AND cancelled_at IS NULL"
            ),
            {"ids": ids},
        ).scalar_one()


def fired_steps(engine, ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, int, float, float, float | None]]:
    """(alert, step, due_at, fired_at, cancelled_at) of every fired step ≥ 1 of these alerts, in epoch seconds."""
    with engine.connect() as conn:
        return [
            (r[0], r[1], float(r[2]), float(r[3]), None if r[4] is None else float(r[4]))
            for r in conn.execute(
                text(
                    "SELECT event_id, step, extract(epoch FROM due_at), extract(epoch FROM fired_at), "
                    "extract(epoch FROM cancelled_at) FROM alert_steps "
                    "WHERE event_id = ANY(:ids) AND step >= 1 AND fired_at IS NOT NULL"
                ),
                {"ids": ids},
            ).all()
        ]


class PushTopic:
    """The push topic read without a group: its size, and the produce time of each alert's step-1 pushes."""

    def __init__(self, settings) -> None:
        self.topic = settings.topic(PUSH)
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": "bench-escalation-probe",
                "enable.auto.commit": False,
            }
        )
        self.partitions = sorted(self.consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions)
        self.serde = AvroSerde(PUSH_REQUEST, SchemaStore())

    def ends(self) -> dict[int, int]:
        return {
            p: self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
            for p in self.partitions
        }

    def produced(self, start: dict[int, int], end: dict[int, int]) -> dict[uuid.UUID, float]:
        """The first produce time (epoch seconds) of each alert's push requests between two ``ends()``."""
        wanted = {p: (start[p], end[p]) for p in self.partitions if end[p] > start[p]}
        self.consumer.assign([TopicPartition(self.topic, p, lo) for p, (lo, _) in wanted.items()])
        first: dict[uuid.UUID, float] = {}
        done = {p: lo for p, (lo, _) in wanted.items()}
        deadline = time.monotonic() + 120
        while any(done[p] < wanted[p][1] for p in wanted):
            assert time.monotonic() < deadline, "could not read the push topic to its end"
            for m in self.consumer.consume(1000, 0.5):
                if m.error():
                    continue
                done[m.partition()] = m.offset() + 1
                push = PushRequest.from_avro(self.serde.decode(m.value()))
                at = m.timestamp()[1] / 1000
                if push.event_id is not None and at < first.get(push.event_id, float("inf")):
                    first[push.event_id] = at
        self.consumer.unassign()
        return first

    def close(self) -> None:
        self.consumer.close()


def summary(seconds: list[float]) -> dict:
    return {
        "n": len(seconds),
        "p50_s": percentile(seconds, 50),
        "p99_s": percentile(seconds, 99),
        "max_s": max(seconds, default=float("nan")),
    }


def spread_phase(
    engine, org: Org, ids: list[uuid.UUID], pushes: PushTopic, rng: random.Random, acknowledge: bool
) -> dict:
    """Step 1 of ``ids`` due over a 10 s window; with ``acknowledge``, half the alerts are acknowledged
    around their due time meanwhile."""
    before = pushes.ends()
    with engine.begin() as conn:
        due = dict(
            conn.execute(
                text(
                    "UPDATE alert_steps SET due_at = now() + make_interval(secs => :start + random() * :spread) "
                    "WHERE event_id = ANY(:ids) AND step = 1 RETURNING event_id, extract(epoch FROM due_at)"
                ),
                {"ids": ids, "start": SPREAD_START_S, "spread": SPREAD_S},
            ).all()
        )
    acked = rng.sample(ids, len(ids) // 2) if acknowledge else []
    nurse = org.uid("nurse00")
    acks = Acknowledger(engine.url, [(float(due[e]) + rng.uniform(-ACK_EARLY_S, ACK_LATE_S), e, nurse) for e in acked])
    threads = acks.start() if acked else []
    wait_until(lambda: pending_step_1(engine, ids) == 0, 300, interval=0.25, what="every step 1 fired or cancelled")
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "the acknowledgements did not finish"
    if acked:
        # The acknowledged alerts' timers are all closed now; further ticks are given time to fire one
        # anyway, which is what this phase checks they never do.
        time.sleep(2.0)
    steps = fired_steps(engine, ids)
    late = [fired - due_at for _, _, due_at, fired, _ in steps]
    produced = pushes.produced(before, pushes.ends())
    push_late = [produced[e] - due_at for e, step, due_at, _, _ in steps if step == 1 and e in produced]
    figures = {
        "alerts": len(ids),
        "steps_fired": len(steps),
        "first_to_last_fired_s": max(f for *_, f, _ in steps) - min(f for *_, f, _ in steps),
        "fired_minus_due": summary(late),
        "push_produced_minus_due": summary(push_late),
        "push_requests": sum(pushes.ends().values()) - sum(before.values()),
    }
    if not acked:
        return figures
    after_ack = [
        (e, step)
        for e, step, _, fired, cancelled in steps
        if e in acks.committed and (cancelled is not None or e in acks.cancelled_step_1 or fired > acks.committed[e])
    ]
    with engine.connect() as conn:
        bell_after_cancel = conn.execute(
            text("SELECT count(*) FROM user_notifications WHERE event_id = ANY(:ids) AND alert_step >= 1"),
            {"ids": list(acks.cancelled_step_1)},
        ).scalar_one()
    return {
        **figures,
        "acknowledged": len(acks.committed),
        "acks_cancelling_pending_step_1": len(acks.cancelled_step_1),
        "acks_after_step_1_fired": len(acks.committed) - len(acks.cancelled_step_1),
        "ack_commit_minus_planned": summary(acks.lateness),
        "steps_fired_after_acknowledgement": len(after_ack),
        "bell_rows_of_cancelled_steps": bell_after_cancel,
    }


def catch_up_phase(engine, ids: list[uuid.UUID], escalators: Escalators, pushes: PushTopic) -> dict:
    """Every step 1 of ``ids`` due at once: how fast the escalators drain the backlog, and what it costs."""
    before, cpu = pushes.ends(), escalators.cpu(engine)
    with engine.begin() as conn:
        made_due = float(
            conn.execute(
                text(
                    "UPDATE alert_steps SET due_at = statement_timestamp() WHERE event_id = ANY(:ids) AND step = 1 "
                    "RETURNING extract(epoch FROM due_at)"
                ),
                {"ids": ids},
            ).scalar()
        )
    wait_until(lambda: pending_step_1(engine, ids) == 0, 600, interval=0.25, what="the backlog to drain")
    escalator_cpu, postgres_cpu = cpu_spent(cpu, escalators.cpu(engine))
    steps = fired_steps(engine, ids)
    last = max(fired for _, _, _, fired, _ in steps)
    produced = pushes.produced(before, pushes.ends())
    run_s = max(last, max(produced.values(), default=last)) - made_due
    return {
        "alerts": len(ids),
        "steps_fired": len(steps),
        "run_s": run_s,
        "steps_per_s": len(steps) / run_s,
        "wall_ms_per_step": run_s / len(steps) * 1000,
        "escalator_cpu_ms_per_step": escalator_cpu / len(steps) * 1000,
        "postgres_cpu_ms_per_step": postgres_cpu / len(steps) * 1000,
        "push_requests": sum(pushes.ends().values()) - sum(before.values()),
    }


def run(settings, alerts: int, replicas: int, logs: Path, seed: int) -> dict:
    engine = create_engine(settings.database_url)
    org = Org(engine)
    org.build()
    started = time.perf_counter()
    spread_ids, acked_ids, catch_up_ids = (org.raise_alerts(alerts) for _ in range(3))
    raised_s = time.perf_counter() - started
    print(f"[escalation] {replicas} replica(s): raised {3 * alerts:,} alerts in {raised_s:.1f} s", flush=True)
    pushes = PushTopic(settings)
    escalators = Escalators(settings, replicas, logs)
    try:
        wait_until(lambda: escalators.connected(engine), 60, what="the escalators to start")
        rng = random.Random(seed)
        spread = spread_phase(engine, org, spread_ids, pushes, rng, acknowledge=False)
        acknowledged = spread_phase(engine, org, acked_ids, pushes, rng, acknowledge=True)
        catch_up = catch_up_phase(engine, catch_up_ids, escalators, pushes)
    finally:
        escalators.stop()
        pushes.close()
        engine.dispose()
    return {"replicas": replicas, "spread": spread, "acknowledged": acknowledged, "catch_up": catch_up}


def report(result: dict) -> list[str]:
    s, a, c = result["spread"], result["acknowledged"], result["catch_up"]
    late = s["fired_minus_due"]
    met = late["p99_s"] < TARGET_P99_S
    return [
        f"escalator, {result['replicas']} replica(s), default settings (tick 0.25 s, batch 200)",
        f"  1. spread: {s['alerts']:,} alerts, step 1 due over {SPREAD_S:.0f} s",
        *_lateness(s),
        f"     target p99 of fired_at - due_at < {TARGET_P99_S:.0f} s: {'met' if met else 'MISSED'}",
        f"  2. acknowledged: {a['alerts']:,} more alerts likewise, {a['acknowledged']:,} acknowledged around their "
        f"due time ({a['acks_cancelling_pending_step_1']:,} while step 1 was pending, {a['acks_after_step_1_fired']:,} "
        f"after it fired; commit - planned p99 {a['ack_commit_minus_planned']['p99_s']:.3f} s)",
        *_lateness(a),
        f"     steps fired after their alert was acknowledged: {a['steps_fired_after_acknowledgement']} "
        f"(bell rows of cancelled steps: {a['bell_rows_of_cancelled_steps']}; both must be 0)",
        f"  3. catch-up: {c['alerts']:,} step-1 timers due at once",
        f"     drained in {c['run_s']:.2f} s: {c['steps_per_s']:,.0f} steps/s, {c['wall_ms_per_step']:.2f} ms per step "
        f"(run time / steps)",
        f"     CPU per step: escalator {c['escalator_cpu_ms_per_step']:.2f} ms, its Postgres backends "
        f"{c['postgres_cpu_ms_per_step']:.2f} ms",
        f"     push requests          {c['push_requests']:>8,}",
    ]


def _lateness(phase: dict) -> list[str]:
    late, push = phase["fired_minus_due"], phase["push_produced_minus_due"]
    return [
        f"     steps fired            {phase['steps_fired']:>8,}  push requests {phase['push_requests']:,}",
        f"     fired_at - due_at      p50 {late['p50_s']:.3f} s  p99 {late['p99_s']:.3f} s  max {late['max_s']:.3f} s",
        f"     push produced - due_at p50 {push['p50_s']:.3f} s  p99 {push['p99_s']:.3f} s  max {push['max_s']:.3f} s",
    ]


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.1f}" for v in load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000, help="alerts per phase (two phases per run)")
    parser.add_argument(
        "--replicas", type=int, nargs="+", default=[1], help="escalator processes; several values: one run each"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    settings = bench_settings(scratch_database("herald_bench_escalation"))
    logs = Path(tempfile.mkdtemp(prefix="herald-bench-escalation-"))
    results = []
    for replicas in args.replicas:
        results.append(run(settings, args.alerts, replicas, logs, args.seed))
        print("\n".join(report(results[-1])), flush=True)
    load_at_end = os.getloadavg()
    print(f"load average {_load(load_at_start)} at the start, {_load(load_at_end)} at the end; escalator logs: {logs}")
    if args.json:
        figures = {"alerts": args.alerts, "load_average": [load_at_start, load_at_end], "runs": results}
        args.json.write_text(json.dumps({"machine": machine(), "at": time.time(), **figures}, indent=2))
        print(f"saved {args.json}")


if __name__ == "__main__":
    main()
