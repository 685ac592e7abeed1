"""Broker failures of a three-node cluster under steady load, measured: the scenarios of
``test_broker_failover.py`` and ``bench/broker_failure.py``.

Three faults, each with the whole pipeline running at a steady rate:

* ``leader``: the node leading most partitions of the pipeline's topics is SIGKILLed, and started again
  on its data ``delay_s`` later;
* ``controller``: the same for the active controller (the quorum's leader);
* ``rolling``: every node in turn stopped with SIGTERM (a controlled shutdown), started again, and the
  next one only once every replica is back in sync, as an operator rolls an upgrade.

A run injects one or more of them in turn under one load and is audited once (``scenario.FaultRun``'s
audit: events lost, duplicate rows, pushes lost, pushes the emulator accepted twice). Beside it, the
worst over its faults of: ``during_s``, seconds from a kill until every process was back to its steady
lag and ready *while the node was still down* (the cluster carrying on with two nodes), None if not
within the delay; ``recovery_s``, per process, seconds from the node's return (for the rolling restart:
the last node's) until back to steady; ``in_sync_s``, seconds from the return until every replica was
in sync again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cli.processes import wait_until
from tests.faults.kafka_cluster import FaultKafkaCluster
from tests.faults.pipeline import FaultPipeline, watch_recovery
from tests.faults.scenario import RATE, FaultRun, quietly, settle

FAULTS = ("leader", "controller", "rolling")


@dataclass
class FailoverRun(FaultRun):
    target: str = ""  # which node(s), and what else that node was
    during_s: float | None = None
    steady_while_down: bool | None = None  # None: no node was killed (a rolling restart only)
    in_sync_s: float | None = None
    steps: list[str] = field(default_factory=list)

    def failover_line(self) -> str:
        during = "never" if self.during_s is None else f"{self.during_s:.1f}s"
        if self.steady_while_down is None:
            during = "n/a (no node killed)"
        in_sync = "never" if self.in_sync_s is None else f"{self.in_sync_s:.1f}s"
        worst = _worst(self.recovery_s)
        return (
            f"{self.line()}; targets {self.target.rstrip('; ')}; every group steady again while down after {during}; "
            f"every process steady after the return {worst}; replicas in sync after the return {in_sync}; "
            f"steps: {'; '.join(self.steps)}"
        )


def run_failover(
    pipeline: FaultPipeline,
    cluster: FaultKafkaCluster,
    faults: tuple[str, ...],
    delay_s: float,
    rate: float = RATE,
    warmup_s: float = 10.0,
    settle_s: float = 10.0,
) -> FailoverRun:
    """The ``faults`` of FAULTS one after the other under one run of ``rate`` events/s, audited together;
    ``warmup_s`` of load before the first (then 5 s of it give the steady lag), ``settle_s`` after the
    last recovery. ``recovery_s`` and ``in_sync_s`` are the worst over the faults. A step that fails is
    recorded in ``errors`` and the audit still runs."""
    run = FailoverRun("+".join(faults), 1)
    pipeline.fcm.reset()
    load = pipeline.load(rate)
    try:
        wait_until(lambda: len(load.published) >= rate * warmup_s, 60, what=f"{warmup_s:.0f} s of load")
        run.steady = pipeline.steady_lag(min(5.0, warmup_s))
        limits = {name: max(2 * worst, int(rate * 2)) for name, worst in run.steady.items()}
        for fault in faults:
            _one_fault(pipeline, cluster, run, fault, delay_s, limits)
        more = len(load.published) + rate * settle_s
        wait_until(lambda: len(load.published) >= more, 60, interval=0.5, what="the load after the recovery")
    except Exception as exc:  # noqa: BLE001 - recorded; the audit below still runs
        run.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        unacknowledged = load.stop()
    settle(pipeline, run, load, unacknowledged)
    return run


def _one_fault(
    pipeline: FaultPipeline,
    cluster: FaultKafkaCluster,
    run: FailoverRun,
    fault: str,
    delay_s: float,
    limits: dict[str, int],
) -> None:
    """Injects ``fault``, then watches from the return: every process back to steady, and (in a thread,
    so neither wait delays the other's figure) every replica in sync."""
    down_at = time.monotonic()
    if fault == "rolling":
        _roll(cluster, run)
    else:
        _kill_and_restart(pipeline, cluster, run, fault, delay_s, limits)
    back_at = time.monotonic()
    run.down_s += back_at - down_at
    in_sync: list[float] = []

    def wait_in_sync() -> None:
        cluster.wait_in_sync()
        in_sync.append(time.monotonic() - back_at)

    waiter = threading.Thread(target=wait_in_sync, daemon=True)
    waiter.start()
    recovery = watch_recovery(pipeline, back_at, limits, timeout=120)
    waiter.join(130)
    run.steps.append(f"{fault}: steady after the return {_worst(recovery)}")
    for name, took in recovery.items():
        before = run.recovery_s.get(name, 0.0)
        run.recovery_s[name] = None if took is None or before is None else max(took, before)
    if not in_sync:
        run.errors.append(f"{fault}: replicas not in sync within 120 s of the return")
    else:
        run.in_sync_s = max(run.in_sync_s or 0.0, in_sync[0])


def _worst(recovery: dict[str, float | None]) -> str:
    if not recovery or None in recovery.values():
        return "never"
    return f"{max(s for s in recovery.values() if s is not None):.1f}s"


def _kill_and_restart(
    pipeline: FaultPipeline,
    cluster: FaultKafkaCluster,
    run: FailoverRun,
    fault: str,
    delay_s: float,
    limits: dict[str, int],
) -> None:
    prefix = pipeline.settings.topic_prefix
    controller = cluster.active_controller()
    busiest = cluster.busiest_leader(prefix)
    target = busiest if fault == "leader" else controller
    counts = cluster.leader_counts(prefix)
    run.target += (
        f"{fault}: node {target} (leads {counts[target]} of {sum(counts.values())} partitions"
        f"{', also the active controller' if target == controller else ''}"
        f"{', also the busiest leader' if fault == 'controller' and target == busiest else ''}); "
    )
    killed_at = time.monotonic()
    cluster.node(target).kill()
    # While the node is down: how long until the two left carry the load at the steady lag again.
    during = watch_recovery(pipeline, killed_at, limits, timeout=delay_s)
    late = [n for n, s in during.items() if s is None]
    run.steps.append(
        f"{fault}: steady while down after {_worst(during)}" + (f" ({', '.join(late)} not)" if late else "")
    )
    if late or run.steady_while_down is False:
        run.steady_while_down, run.during_s = False, None
    else:
        run.steady_while_down = True
        run.during_s = max(run.during_s or 0.0, *(s for s in during.values() if s is not None))
    if fault == "controller":
        wait_until(lambda: quietly(lambda: cluster.active_controller() != target), 30, what="a new controller")
        run.steps.append(f"new controller node {cluster.active_controller()}")
    time.sleep(max(killed_at + delay_s - time.monotonic(), 0.0))
    took = cluster.start_node(target)
    run.steps.append(f"node {target} down {time.monotonic() - killed_at:.1f}s, its restart {took:.1f}s")


def _roll(cluster: FaultKafkaCluster, run: FailoverRun) -> None:
    """SIGTERM, start, wait for every replica in sync; node by node, the controller last (as operators
    do: the controller role moves once, not at every step)."""
    controller = cluster.active_controller()
    order = sorted((n.node_id for n in cluster.nodes), key=lambda n: (n == controller, n))
    run.target += f"rolling: nodes {order} in turn (node {controller} the active controller); "
    for node_id in order:
        started = time.monotonic()
        cluster.node(node_id).stop()
        stopped = time.monotonic() - started
        took = cluster.start_node(node_id)
        in_sync = cluster.wait_in_sync()
        run.steps.append(f"node {node_id}: stop {stopped:.1f}s, start {took:.1f}s, in sync {in_sync:.1f}s")


def assert_duplicate_pushes_bounded(runs: list[FailoverRun], per_restart: int) -> None:
    """A push goes out twice only when the push sender dies between FCM's answer and the delivery record
    (docs/decisions/0221-duplicate-pushes-under-broker-failure.md): a broker failure alone sends none
    twice, and each push-sender restart at most the batches it had in flight."""
    for run in runs:
        bound = run.restarts.get("push-sender", 0) * per_restart
        assert run.audit is not None and run.audit.emulator_duplicates <= bound, run.failover_line()
