"""The push sender against real Kafka, Postgres and the FCM emulator (firebase-admin on the wire)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import datetime

import pytest

from cli.dlq import read_dlq
from cli.processes import wait_until
from streams.topics import PUSH, PUSH_DLQ
from tests.integration.fcm import (
    SENDER,
    add_bell_rows,
    delivered,
    device,
    publish_requests,
    push_request,
    register,
    sender_caught_up,
    start_sender,
)
from tests.integration.helpers import query

pytestmark = pytest.mark.integration


def test_given_push_requests_then_every_active_device_gets_each_push_once(pipeline, fcm, tmp_path):
    devices = {f"u{i}": [device(f"u{i}", n) for n in range(1 + i % 2)] for i in range(40)}
    register(pipeline, devices)
    requests = [
        push_request(f"u{i % 40}", priority_kind)
        for i, priority_kind in enumerate(["LAB_RESULT_RECEIVED", "APPOINTMENT_SCHEDULED", "ENCOUNTER_SIGNED"] * 40)
    ]
    add_bell_rows(pipeline, requests)
    publish_requests(pipeline, requests)

    start_sender(pipeline, tmp_path, fcm)
    expected = {(str(r.notification_id), t) for r in requests for t in devices[r.user_id]}
    wait_until(lambda: len(delivered(fcm)) >= len(expected) and sender_caught_up(pipeline), 60, what="every push")

    publish_requests(pipeline, requests[:50])  # redelivered (e.g. the fan-out redid a batch)
    wait_until(lambda: sender_caught_up(pipeline), 60, what="the redelivered requests")

    got = delivered(fcm)
    assert Counter(got) == Counter(expected)  # each (notification, token) exactly once, redelivery included
    sample = fcm.messages(devices["u1"][0])[0]["message"]
    assert sample["android"]["notification"]["visibility"] == "PRIVATE"
    assert (
        sample["android"]["collapse_key"]
        == sample["apns"]["headers"]["apns-collapse-id"]
        == sample["data"]["notification_id"]
    )
    assert sample["android"]["ttl"] == "86400s"
    rows = query(
        pipeline,
        "SELECT push_status, pushed_at FROM user_notifications WHERE notification_id = ANY(:ids)",
        ids=[r.notification_id for r in requests],
    )
    assert {status for status, _ in rows} == {"sent"} and all(isinstance(at, datetime) for _, at in rows)
    sent = query(
        pipeline,
        "SELECT count(*) FROM push_deliveries WHERE status = 'sent' AND notification_id = ANY(:ids)",
        ids=[r.notification_id for r in requests],
    )[0][0]
    assert sent == len(expected)


def test_given_an_unregistered_token_then_it_is_retired_and_the_other_device_still_gets_the_push(
    pipeline, fcm, tmp_path
):
    gone, phone = device("nurse", 0), device("nurse", 1)
    register(pipeline, {"nurse": [gone, phone]})
    fcm.fault(token=gone, code="UNREGISTERED")
    first, second = push_request("nurse"), push_request("nurse")
    publish_requests(pipeline, [first])

    start_sender(pipeline, tmp_path, fcm)
    wait_until(lambda: sender_caught_up(pipeline) and len(fcm.messages(phone)) == 1, 60, what="the first push")
    publish_requests(pipeline, [second])
    wait_until(lambda: len(fcm.messages(phone)) == 2 and sender_caught_up(pipeline), 60, what="the second push")

    retired = query(
        pipeline, "SELECT token, retired_reason FROM device_tokens WHERE retired_at IS NOT NULL AND user_id = 'nurse'"
    )
    assert retired == [(gone, "UNREGISTERED")]
    assert [a["code"] for a in fcm.attempts(gone)] == ["UNREGISTERED"]  # the retired token is not tried again
    assert {(m["message"]["data"]["notification_id"]) for m in fcm.messages(phone)} == {
        str(first.notification_id),
        str(second.notification_id),
    }


def test_given_unavailable_twice_then_the_push_is_retried_and_delivered_once(pipeline, fcm, tmp_path):
    token = device("doc")
    register(pipeline, {"doc": [token]})
    fcm.fault(token=token, code="UNAVAILABLE", times=2)
    request = push_request("doc")
    add_bell_rows(pipeline, [request])
    publish_requests(pipeline, [request])

    start_sender(pipeline, tmp_path, fcm)
    wait_until(lambda: len(fcm.messages(token)) == 1, 60, what="the retried push")
    wait_until(
        lambda: query(pipeline, "SELECT count(*) FROM push_retries")[0][0] == 0 and sender_caught_up(pipeline),
        30,
        what="the retry to be consumed",
    )

    assert [a["code"] for a in fcm.attempts(token)] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]
    assert query(pipeline, "SELECT status, attempts FROM push_deliveries WHERE token = :t", t=token) == [("sent", 3)]
    assert query(
        pipeline, "SELECT push_status FROM user_notifications WHERE notification_id = :n", n=request.notification_id
    ) == [("sent",)]


def test_given_quota_exceeded_with_retry_after_then_no_retry_before_it_and_others_are_not_held_up(
    pipeline, fcm, tmp_path
):
    busy, other = device("busy"), device("other")
    register(pipeline, {"busy": [busy], "other": [other]})
    fcm.fault(token=busy, code="QUOTA_EXCEEDED", times=1, retry_after=2, latency_ms=1000)  # answered 1 s late
    publish_requests(pipeline, [push_request("busy"), push_request("other")], partition=0)  # one partition, busy first

    start_sender(pipeline, tmp_path, fcm, HERALD_PUSH_RETRY_BASE_S="0.05")
    wait_until(lambda: len(fcm.messages(busy)) == 1, 60, what="the push after Retry-After")

    quota, ok = fcm.attempts(busy)
    assert (quota["code"], ok["code"]) == ("QUOTA_EXCEEDED", "OK")
    assert ok["at"] - (quota["at"] + 1.0) >= 2.0, "retried before Retry-After (counted from the answer)"
    assert fcm.messages(other)[0]["received_at"] - quota["at"] < 2.0, "the partition waited for the retry"


def test_given_its_database_connections_are_dropped_then_the_next_push_still_goes_out_once(pipeline, fcm, tmp_path):
    token = device("ward")
    register(pipeline, {"ward": [token]})
    first, second = push_request("ward"), push_request("ward")
    add_bell_rows(pipeline, [first, second])
    publish_requests(pipeline, [first])
    name = f"sender-{tmp_path.name}"[:60]  # its connections, and only its, are dropped below

    start_sender(
        pipeline, tmp_path, fcm, HERALD_DATABASE_URL=f"{pipeline.settings.database_url}?application_name={name}"
    )
    wait_until(lambda: len(fcm.messages(token)) == 1 and sender_caught_up(pipeline), 60, what="the first push")
    dropped = query(
        pipeline,
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name",
        name=name,
    )[0][0]
    assert dropped >= 2  # the reader's (autocommit, no pre-ping) and the writer's, at least
    publish_requests(pipeline, [second])
    wait_until(lambda: len(fcm.messages(token)) == 2 and sender_caught_up(pipeline), 60, what="the push after the drop")

    assert [m["message"]["data"]["notification_id"] for m in fcm.messages(token)] == [
        str(first.notification_id),
        str(second.notification_id),
    ]
    assert query(pipeline, "SELECT count(*) FROM push_deliveries WHERE token = :t AND status = 'sent'", t=token) == [
        (2,)
    ]
    log = (tmp_path / f"{SENDER}.log").read_text()
    assert "batch of 1 failed (OperationalError" in log  # the dead connection was the reader's: one batch redone
    assert "'ward'" not in log and token not in log  # the failed statement's parameters are not logged


def test_given_a_permanent_error_then_dlq_with_headers_and_replay_delivers_exactly_once(pipeline, fcm, tmp_path):
    token = device("pharm")
    register(pipeline, {"pharm": [token]})
    fcm.fault(token=token, code="SENDER_ID_MISMATCH")
    request = push_request("pharm")
    add_bell_rows(pipeline, [request])
    publish_requests(pipeline, [request])

    start_sender(pipeline, tmp_path, fcm)
    wait_until(lambda: len(dlq(pipeline)) == 1, 60, what="the dead letter")
    (dead,) = dlq(pipeline)
    h = dead.headers
    assert (h["herald.error.type"], h["herald.push.error-code"], h["herald.push.attempts"]) == (
        "PushPermanentError",
        "SENDER_ID_MISMATCH",
        "1",
    )
    assert "SENDER_ID_MISMATCH" in h["herald.error.reason"] and h["herald.source.topic"] == pipeline.topic(PUSH)
    assert datetime.fromisoformat(h["herald.first-failed-at"]) <= datetime.fromisoformat(
        h["herald.push.last-failed-at"]
    )
    assert dead.key == b"pharm" and fcm.messages(token) == []
    assert query(
        pipeline, "SELECT push_status FROM user_notifications WHERE notification_id = :n", n=request.notification_id
    ) == [("failed",)]

    fcm.reset()
    first = replay(pipeline)
    wait_until(lambda: len(fcm.messages(token)) == 1 and sender_caught_up(pipeline), 60, what="the replayed push")
    second = replay(pipeline)

    assert "replayed 1;" in first and "replayed 0; already replayed before: 1" in second
    assert len(fcm.messages(token)) == 1 and len(dlq(pipeline)) == 1
    assert query(
        pipeline, "SELECT push_status FROM user_notifications WHERE notification_id = :n", n=request.notification_id
    ) == [("sent",)]


def test_given_unavailable_forever_then_the_dlq_after_the_bounded_attempts(pipeline, fcm, tmp_path):
    token = device("tech")
    register(pipeline, {"tech": [token]})
    fcm.fault(token=token, code="UNAVAILABLE")
    publish_requests(pipeline, [push_request("tech")])

    start_sender(pipeline, tmp_path, fcm, HERALD_PUSH_MAX_ATTEMPTS="3")
    wait_until(lambda: len(dlq(pipeline)) == 1, 60, what="the dead letter")

    h = dlq(pipeline)[0].headers
    assert (h["herald.error.type"], h["herald.push.error-code"], h["herald.push.attempts"]) == (
        "PushRetriesExhausted",
        "UNAVAILABLE",
        "3",
    )
    assert [a["code"] for a in fcm.attempts(token)] == ["UNAVAILABLE"] * 3
    assert query(pipeline, "SELECT count(*) FROM push_retries")[0][0] == 0


def test_given_a_sigkill_mid_batch_then_nothing_is_lost_and_duplicates_stay_within_the_two_batches_in_flight(
    pipeline, fcm, tmp_path
):
    """The push sender is pipelined (docs/decisions/0161-push-sender-stays-pipelined.md): at the kill, batch N
    may be sent and in its transaction while N+1 is sent; both are re-sent after the restart, no more."""
    devices = {f"k{i}": [device(f"k{i}", n) for n in range(1 + i % 2)] for i in range(60)}
    register(pipeline, devices)
    requests = [push_request(f"k{i % 60}") for i in range(300)]
    expected = {(str(r.notification_id), t) for r in requests for t in devices[r.user_id]}
    publish_requests(pipeline, requests)
    fcm.fault(latency_ms=25)
    slow = {"HERALD_BATCH_MAX_RECORDS": "40", "HERALD_FCM_CONNECTIONS": "4"}

    first = start_sender(pipeline, tmp_path, fcm, **slow)
    wait_until(lambda: len(delivered(fcm)) > 100, 60, interval=0.05, what="the first pushes")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = len(delivered(fcm))
    start_sender(pipeline, tmp_path, fcm, **slow)
    wait_until(
        lambda: set(delivered(fcm)) >= expected and sender_caught_up(pipeline), 120, what="the restart to finish"
    )

    got = Counter(delivered(fcm))
    duplicates = sum(n - 1 for n in got.values())
    assert at_kill < len(expected), "the kill did not land mid-stream"
    assert set(got) == expected  # none lost, nothing unexpected
    print(f"push sender SIGKILL: {duplicates} duplicate sends of {len(expected)} (at the kill: {at_kill} sent)")
    assert duplicates <= 2 * 40 * 2, f"{duplicates} duplicates: more than two batches (2 x 40 requests x 2 devices)"


def dlq(pipeline) -> list:
    """The push DLQ's records (a transactional topic: its end offset may be a commit marker)."""
    return read_dlq(pipeline.settings, pipeline.topic(PUSH_DLQ))


def replay(pipeline) -> str:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "dlq", "replay", "--topic", PUSH_DLQ],
        env={**__import__("os").environ, **pipeline.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- FCM down, then back: the first push within seconds, no attempt spent on the outage ------------


def test_given_fcm_unreachable_for_a_while_then_the_first_push_goes_out_within_5_s_of_its_return(pipeline, tmp_path):
    from deploy.fcm_emulator.harness import FcmEmulator

    own = FcmEmulator.start(tmp_path / "own-fcm.log")  # this test stops it: not the shared one
    port = int(own.url.rsplit(":", 1)[1])
    devices = {f"r{i}": [device(f"r{i}")] for i in range(20)}
    register(pipeline, devices)
    requests = [push_request(f"r{i}") for i in range(20)]
    own.stop()
    publish_requests(pipeline, requests)
    start_sender(pipeline, tmp_path, own)
    log = tmp_path / f"{SENDER}.log"
    wait_until(
        lambda: log.read_text().count("FCM still down (unreachable") >= 10,
        60,
        what="ten failed probes of the unreachable FCM",
    )

    back = FcmEmulator.start(tmp_path / "own-fcm-back.log", port=port)
    returned_at = time.time()  # it answers from here on
    try:
        wait_until(lambda: back.messages(), 30, interval=0.05, what="the first push after FCM's return")
        recovery = back.messages()[0]["received_at"] - returned_at
        wait_until(lambda: len(delivered(back)) >= len(requests) and sender_caught_up(pipeline), 60, what="every push")
        got = Counter(delivered(back))
    finally:
        back.stop()

    print(f"unreachable FCM: first push {recovery:.2f}s after its return")
    assert recovery < 5.0, f"first push {recovery:.1f}s after FCM's return"
    assert set(got) == {(str(r.notification_id), devices[r.user_id][0]) for r in requests} and max(got.values()) == 1
    assert query(
        pipeline, "SELECT max(attempts) FROM push_deliveries WHERE token = ANY(:t)", t=[d[0] for d in devices.values()]
    ) == [(1,)]  # a rewound batch is not an attempt


def test_given_fcm_unavailable_for_a_while_then_nothing_is_dead_lettered_and_pushes_resume_within_5_s(
    pipeline, fcm, tmp_path
):
    devices = {f"s{i}": [device(f"s{i}")] for i in range(40)}
    register(pipeline, devices)
    requests = [push_request(f"s{i}") for i in range(40)]
    fcm.fault(code="UNAVAILABLE")  # every send, until cleared
    publish_requests(pipeline, requests)
    start_sender(pipeline, tmp_path, fcm, HERALD_PUSH_MAX_ATTEMPTS="3")  # the old way would dead-letter in ~2 s
    log = tmp_path / f"{SENDER}.log"
    wait_until(
        lambda: log.read_text().count("FCM still down (server") >= 10, 60, what="ten failed probes of the failing FCM"
    )

    fcm.reset()
    returned_at = time.time()
    wait_until(lambda: fcm.messages(), 30, interval=0.05, what="the first push after FCM's return")
    recovery = fcm.messages()[0]["received_at"] - returned_at
    wait_until(
        lambda: (
            len(delivered(fcm)) >= len(requests)
            and sender_caught_up(pipeline)
            and query(pipeline, "SELECT count(*) FROM push_retries")[0][0] == 0
        ),
        60,
        what="every push",
    )

    print(f"UNAVAILABLE from FCM: first push {recovery:.2f}s after its return")
    assert recovery < 5.0, f"first push {recovery:.1f}s after FCM's return"
    assert Counter(delivered(fcm)) == Counter((str(r.notification_id), devices[r.user_id][0]) for r in requests)
    assert dlq(pipeline) == []
