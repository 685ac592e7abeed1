"""The FCM emulator's protocol rules (validation, error bodies, faults) and its HTTP server, in-process."""

from __future__ import annotations

import asyncio
import gc
import json
import random

import pytest

from deploy.fcm_emulator.fcm import PAYLOAD_MAX, Emulator, Fault
from deploy.fcm_emulator.server import route, serve

GOOD = {
    "token": "tok-abcdefgh",
    "notification": {"title": "New lab result", "body": "Open Herald to view it."},
    "data": {"notification_id": "n1"},
    "android": {"priority": "high", "ttl": "3600s", "notification": {"visibility": "PRIVATE"}},
    "apns": {"headers": {"apns-collapse-id": "n1"}},
}


INTERRUPTION_LEVEL = "message.apns.payload.aps.interruption-level"


def send(emulator: Emulator, message: dict | None = None, raw: bytes | None = None, authorized: bool = True):
    body = raw if raw is not None else json.dumps({"message": message or GOOD}).encode()
    return emulator.send("p", body, authorized)


def error_code(reply) -> str:
    return reply.body["error"]["details"][0]["errorCode"]


@pytest.mark.parametrize(
    "message, field",
    [
        ({**GOOD, "token": "bad token"}, "message.token"),
        ({**GOOD, "token": ""}, "message.token"),
        ({k: v for k, v in GOOD.items() if k != "token"}, "message"),
        ({**GOOD, "topic": "news"}, "message"),
        ({**GOOD, "data": {"a": 1}}, "message.data"),
        ({**GOOD, "data": {"google.x": "1"}}, "message.data"),
        ({**GOOD, "android": {"ttl": "1h"}}, "message.android.ttl"),
        ({**GOOD, "android": {"priority": "urgent"}}, "message.android.priority"),
        ({**GOOD, "android": {"notification": {"visibility": "SOMETIMES"}}}, "message.android.notification.visibility"),
        ({**GOOD, "data": {"blob": "x" * PAYLOAD_MAX}}, "message"),
        ({**GOOD, "colour": "red"}, "message"),
        ({**GOOD, "android": {"priority": True}}, "message.android.priority"),
        ({**GOOD, "apns": {"payload": {"aps": {"interruption-level": "urgent"}}}}, INTERRUPTION_LEVEL),
        ({**GOOD, "apns": {"payload": {"aps": {"interruption-level": "Time-Sensitive"}}}}, INTERRUPTION_LEVEL),
        ({**GOOD, "apns": {"payload": {"aps": {"interruption-level": 2}}}}, INTERRUPTION_LEVEL),
        ({**GOOD, "apns": {"payload": {"aps": "time-sensitive"}}}, "message.apns.payload"),
        ({**GOOD, "apns": {"payload": []}}, "message.apns.payload"),
    ],
)
def test_invalid_messages_get_invalid_argument_like_fcm(message, field):
    reply = send(Emulator(), message)

    assert reply.status == 400 and reply.body["error"]["status"] == "INVALID_ARGUMENT"
    assert error_code(reply) == "INVALID_ARGUMENT"
    violations = [d for d in reply.body["error"]["details"] if "fieldViolations" in d]
    assert (violations[0]["fieldViolations"][0]["field"] if violations else None) == field


def test_a_valid_message_is_accepted_and_recorded():
    emulator = Emulator()

    reply = send(emulator)

    assert reply.status == 200 and reply.body["name"].startswith("projects/p/messages/")
    assert [m["token"] for m in emulator.messages] == ["tok-abcdefgh"]


def test_accepted_messages_are_read_back_as_sent_and_kept_out_of_the_cyclic_collectors_reach():
    """Kept parsed, a benchmark's ~37,000 messages made each full collection pause the server ~100 ms."""
    emulator = Emulator()
    other = {**GOOD, "token": "tok-other-1", "data": {"notification_id": "n2"}}

    send(emulator)
    send(emulator, other)

    assert not any(gc.is_tracked(m) for m in emulator.messages)
    assert [m["message"] for m in emulator.accepted()] == [GOOD, other]
    assert [m["message"] for m in emulator.accepted("tok-other-1")] == [other]
    assert {"name", "project", "token", "received_at"} <= set(emulator.accepted()[0])


@pytest.mark.parametrize("level", ["passive", "active", "time-sensitive", "critical"])
def test_every_apns_interruption_level_is_accepted_and_recorded_with_the_priorities(level):
    emulator = Emulator()
    message = {**GOOD, "apns": {"headers": {"apns-priority": "10"}, "payload": {"aps": {"interruption-level": level}}}}

    reply = send(emulator, message)

    assert reply.status == 200
    assert emulator.accepted()[0]["delivery"] == {
        "android_priority": "high",
        "apns_priority": "10",
        "interruption_level": level,
    }


def test_a_message_without_levels_records_none_for_them():
    emulator = Emulator()
    message = {k: v for k, v in GOOD.items() if k != "android"}

    send(emulator, message)

    assert emulator.accepted()[0]["delivery"] == {
        "android_priority": None,
        "apns_priority": None,
        "interruption_level": None,
    }
    assert (
        route(emulator, "GET", "/emulator/messages", {}, b"").body["messages"][0]["delivery"]["interruption_level"]
        is None
    )


def test_no_bearer_token_is_unauthenticated_and_invalid_json_is_refused():
    assert send(Emulator(), authorized=False).status == 401
    assert send(Emulator(), raw=b"{not json").status == 400


@pytest.mark.parametrize(
    "code, status, rpc",
    [
        ("UNREGISTERED", 404, "NOT_FOUND"),
        ("INVALID_ARGUMENT", 400, "INVALID_ARGUMENT"),
        ("QUOTA_EXCEEDED", 429, "RESOURCE_EXHAUSTED"),
        ("UNAVAILABLE", 503, "UNAVAILABLE"),
        ("INTERNAL", 500, "INTERNAL"),
        ("THIRD_PARTY_AUTH_ERROR", 401, "UNAUTHENTICATED"),
        ("SENDER_ID_MISMATCH", 403, "PERMISSION_DENIED"),
    ],
)
def test_scripted_errors_answer_with_fcms_status_and_fcm_error(code, status, rpc):
    emulator = Emulator()
    emulator.add_fault(Fault(token="tok-abcdefgh", code=code, retry_after=2 if code == "QUOTA_EXCEEDED" else None))

    reply = send(emulator)

    assert (reply.status, reply.body["error"]["status"], error_code(reply)) == (status, rpc, code)
    assert dict(reply.headers).get("Retry-After") == ("2" if code == "QUOTA_EXCEEDED" else None)
    assert emulator.messages == [] and emulator.attempts[-1]["code"] == code


def test_faults_count_down_and_a_tokens_own_fault_wins_over_a_global_one():
    emulator = Emulator()
    emulator.add_fault(Fault(code="INTERNAL"))
    emulator.add_fault(Fault(token="tok-abcdefgh", code="UNAVAILABLE", times=2))

    codes = [send(emulator).status for _ in range(3)]
    other = send(emulator, {**GOOD, "token": "tok-other-1"}).status
    emulator.clear_faults()

    assert codes == [503, 503, 500] and other == 500
    assert send(emulator).status == 200


def test_a_fault_rate_hits_about_that_share():
    emulator = Emulator(rng=random.Random(5))
    emulator.add_fault(Fault(code="UNAVAILABLE", rate=0.25))

    failed = sum(send(emulator).status == 503 for _ in range(400))

    assert 60 < failed < 140


def test_unknown_fault_codes_and_rates_are_refused():
    with pytest.raises(ValueError):
        Fault.from_json({"code": "NOPE"})
    with pytest.raises(ValueError):
        Fault.from_json({"code": "INTERNAL", "rate": 2})


def test_admin_routes():
    emulator = Emulator()
    assert route(emulator, "POST", "/emulator/faults", {}, b'[{"token": "t", "code": "UNREGISTERED"}]').status == 200
    assert route(emulator, "GET", "/emulator/faults", {}, b"").body["faults"][0]["code"] == "UNREGISTERED"
    send(emulator)
    assert len(route(emulator, "GET", "/emulator/messages?token=tok-abcdefgh", {}, b"").body["messages"]) == 1
    assert route(emulator, "GET", "/emulator/stats", {}, b"").body["accepted"] == 1
    assert route(emulator, "DELETE", "/emulator/messages", {}, b"").status == 200 and emulator.messages == []
    assert route(emulator, "POST", "/token", {}, b"grant_type=x").body["token_type"] == "Bearer"
    assert route(emulator, "POST", "/emulator/faults", {}, b'{"code": "NOPE"}').status == 400
    assert route(emulator, "GET", "/nowhere", {}, b"").status == 404


def test_the_server_speaks_keep_alive_http_and_delays_scripted_latency():
    async def scenario():
        emulator = Emulator()
        emulator.add_fault(Fault(token="tok-slow-123", latency_ms=200))
        server = await serve("127.0.0.1", 0, emulator)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        loop = asyncio.get_running_loop()
        for token in ("tok-abcdefgh", "tok-slow-123"):
            body = json.dumps({"message": {**GOOD, "token": token}}).encode()
            writer.write(
                b"POST /v1/projects/p/messages:send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            started = loop.time()
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            answers.append((head.split(b" ")[1], json.loads(await reader.readexactly(length)), loop.time() - started))
        writer.close()
        server.close()
        return answers

    (status1, body1, _), (status2, _, slow) = asyncio.run(scenario())

    assert status1 == status2 == b"200" and "name" in body1
    assert slow >= 0.19
