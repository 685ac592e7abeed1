"""The lag exporter after a broker outage, with a fake broker and clock: failed collections in a row
replace the clients, figures are right again at the first collection after the broker's return even
when the old clients stay wedged, and a snapshot turns stale (not ready) after ``stale_after_s``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from processors.lag_exporter import __main__ as entry
from processors.lag_exporter import app
from processors.lag_exporter.broker import GroupInfo
from processors.lag_exporter.freshness import FailureStreak, collection_age, is_stale
from processors.lag_exporter.settings import LagExporterSettings

TP = ("emr.t", 0)


class FakeBroker:
    """One group on one partition. Clients built while the broker is down stay wedged forever,
    as a librdkafka client that keeps timing out after the broker is back."""

    def __init__(self) -> None:
        self.up, self.committed, self.end = True, 5, 10
        self.built: list[FakeClients] = []

    def connect(self) -> FakeClients:
        self.built.append(FakeClients(self, wedged=not self.up))
        return self.built[-1]


class FakeClients:
    def __init__(self, broker: FakeBroker, wedged: bool) -> None:
        self.broker, self.wedged, self.closed = broker, wedged, False
        self.admin = self.reader = self

    def offsets(self, group: str):
        return self

    def serve_callbacks(self) -> None:
        pass

    def describe_groups(self, groups):
        return self.answer({g: GroupInfo(g, "stable", 1, frozenset({TP[0]})) for g in groups})

    def answer(self, value):
        assert not self.closed, "a closed client was used"
        if self.wedged or not self.broker.up:
            raise RuntimeError("KafkaError{code=_TIMED_OUT}")
        return value

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def broker(monkeypatch) -> FakeBroker:
    fake = FakeBroker()
    b = app.broker
    monkeypatch.setattr(b, "list_groups", lambda c, prefix, t: c.answer(["herald-a"]))
    monkeypatch.setattr(b, "topic_partitions", lambda c, prefix, t: c.answer([TP]))
    monkeypatch.setattr(b, "committed_offsets", lambda c, parts, t: c.answer({TP: fake.committed}))
    monkeypatch.setattr(b, "watermarks", lambda c, parts, t: c.answer({TP: (0, fake.end)}))
    monkeypatch.setattr(b, "read_oldest", lambda c, wanted, t: c.answer({}))
    return fake


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limits(**changes) -> app.LagLimits:
    """The default settings' limits with ``changes`` (the one a test is about)."""
    return replace(app.LagLimits.of(LagExporterSettings()), **changes)


def lag(exporter) -> int:
    return exporter.snapshot.groups[0].messages


def test_given_failures_in_a_row_then_the_clients_are_replaced_from_the_limit_on(broker):
    exporter = app.LagExporter(broker.connect, group_prefix="herald-", limits=limits(failure_limit=2))
    assert exporter.collect_once() and lag(exporter) == 5
    broker.up = False

    assert not exporter.collect_once()
    assert (len(broker.built), broker.built[0].closed) == (1, False)  # one failure: the clients stay
    assert not exporter.collect_once()
    assert broker.built[0].closed and exporter.replacements == 1  # the limit: closed, built anew at next use
    assert not exporter.collect_once()
    assert exporter.replacements == 2 and all(c.closed for c in broker.built)  # each further failure too


def test_given_clients_wedged_through_an_outage_then_figures_are_right_at_the_first_collection_after_it(broker):
    exporter = app.LagExporter(broker.connect, group_prefix="herald-", limits=limits(failure_limit=2))
    exporter.collect_once()
    broker.up = False
    for _ in range(4):
        exporter.collect_once()

    # When the broker is back with new figures
    broker.up, broker.committed, broker.end = True, 50, 60
    # Then the clients built during the outage (wedged) were already replaced: the next collection is right
    assert exporter.collect_once() and lag(exporter) == 10
    assert exporter.failures == 4


def test_given_a_client_wedged_after_a_single_failure_then_one_more_failure_replaces_it(broker):
    exporter = app.LagExporter(broker.connect, group_prefix="herald-", limits=limits(failure_limit=2))
    exporter.collect_once()
    broker.built[0].wedged = True  # the broker blinked; this client never recovers
    assert not exporter.collect_once() and not exporter.collect_once()
    assert exporter.collect_once() and len(broker.built) == 2


def test_given_no_success_for_longer_than_the_limit_then_stale_and_not_ready(broker):
    clock = Clock(1000.0)
    exporter = app.LagExporter(broker.connect, group_prefix="herald-", limits=limits(stale_after_s=60), clock=clock)
    assert not entry.fresh(exporter).ok  # nothing collected yet
    exporter.collect_once()
    broker.up = False
    clock.now = 1060.0
    exporter.collect_once()
    assert not exporter.stale() and entry.fresh(exporter).ok
    clock.now = 1060.5
    assert exporter.stale() and not entry.fresh(exporter).ok
    assert exporter.collection_age_s() == 60.5

    broker.up = True
    exporter.collect_once()
    exporter.collect_once()
    assert not exporter.stale() and entry.fresh(exporter).ok


def test_the_age_counts_from_the_start_until_the_first_success():
    assert collection_age(None, started_at=100.0, now=130.0) == 30.0
    assert collection_age(120.0, started_at=100.0, now=130.0) == 10.0
    assert not is_stale(60.0, 60.0) and is_stale(60.1, 60.0)


def test_a_success_ends_the_failure_streak():
    streak = FailureStreak(limit=3)
    assert not streak.failed() and not streak.failed()
    streak.succeeded()
    assert [streak.failed() for _ in range(4)] == [False, False, True, True]
