"""A Kafka client's outage: one line when it starts, one when a broker is up again, every error counted."""

from __future__ import annotations

import json
import logging

from streams.client_errors import CLIENT_ERRORS, ClientErrors, client_hooks

REFUSED = "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def stats(state: str) -> str:
    return json.dumps({"brokers": {"127.0.0.1:9092/1": {"state": state, "nodeid": 1}}})


def counted(client: str, code: str) -> float:
    return CLIENT_ERRORS.labels(client, code)._value.get()


def lines(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "herald.librdkafka"]


def test_given_an_outage_of_errors_then_one_line_at_its_start_and_one_at_its_end(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    errors = ClientErrors("t-consumer", clock=clock)
    before = counted("t-consumer", "FAIL")

    for _ in range(700):  # ~20 a second for 36 s: librdkafka's FAIL lines and its error events
        errors.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", REFUSED)
        clock.now += 0.05
    for _ in range(12):
        errors.error("_TRANSPORT", REFUSED)
    errors.stats_cb(stats("CONNECT"))  # still down: nothing
    clock.now = 136.0
    errors.stats_cb(stats("UP"))
    errors.stats_cb(stats("UP"))  # already closed: nothing more

    assert lines(caplog) == [
        ("ERROR", f"t-consumer: broker unreachable: {REFUSED} (FAIL); further errors are counted until it is back"),
        ("WARNING", "t-consumer: broker reachable again after 36 s, 712 errors (FAIL 700, _TRANSPORT 12)"),
    ]
    assert counted("t-consumer", "FAIL") - before == 700 and not errors.unreachable


def test_given_a_second_outage_then_it_is_reported_again(caplog):
    caplog.set_level(logging.INFO)
    clock = Clock()
    errors = ClientErrors("t-producer", clock=clock)

    errors.error("_TRANSPORT", "down")
    errors.reachable()
    clock.now += 5
    errors.error("_ALL_BROKERS_DOWN", "down again")
    clock.now += 2
    errors.reachable()

    assert [m for _, m in lines(caplog)] == [
        "t-producer: broker unreachable: down (_TRANSPORT); further errors are counted until it is back",
        "t-producer: broker reachable again after 0 s, 1 errors (_TRANSPORT 1)",
        "t-producer: broker unreachable: down again (_ALL_BROKERS_DOWN); further errors are counted until it is back",
        "t-producer: broker reachable again after 2 s, 1 errors (_ALL_BROKERS_DOWN 1)",
    ]


def test_given_a_fatal_error_then_it_is_always_logged_once(caplog):
    class Fatal:
        def name(self):
            return "_FENCED"

        def str(self):
            return "producer fenced"

        def fatal(self):
            return True

    errors = ClientErrors("t-fatal")
    errors.error("_TRANSPORT", "down")
    errors.error_cb(Fatal())
    errors.error_cb(Fatal())  # a client fails fatally once: librdkafka repeats the same error

    assert [level for level, _ in lines(caplog)] == ["ERROR", "CRITICAL"]
    assert errors.fatal == "_FENCED: producer fenced"


def test_given_librdkafka_lines_not_about_brokers_then_they_pass_through(caplog):
    caplog.set_level(logging.INFO)
    errors = ClientErrors("t-other")

    errors.log(logging.WARNING, "%s [%s] %s", "CONFWARN", "rdkafka#producer-1", "property x is ignored")
    errors.log(logging.INFO, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "an informational FAIL")

    assert [m for _, m in lines(caplog)] == [
        "CONFWARN [rdkafka#producer-1] property x is ignored",
        "FAIL [rdkafka#producer-1] an informational FAIL",
    ]
    assert not errors.unreachable


def test_client_hooks_wire_the_callbacks_and_statistics():
    hooks = client_hooks("consumer")
    assert {"logger", "error_cb", "stats_cb", "statistics.interval.ms"} <= set(hooks)
    assert hooks["error_cb"].__self__ is hooks["logger"] is hooks["stats_cb"].__self__
