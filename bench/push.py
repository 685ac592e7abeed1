"""Push throughput: PushRequests on the push topic → the push sender → the FCM emulator, in pushes/s,
beside the emulator's own ceiling measured in the same run by a bare httpx client (and, for context,
a raw asyncio HTTP/1.1 client) sending the same messages.

    .venv/bin/python bench/push.py [--users 3000] [--requests 10000] [--ceiling-messages 3000]

Needs the local stack (``herald dev up``). Uses its own emulator process on a free port, its own
database (dropped afterwards) and its own topic prefix, so it disturbs nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import scratch_topics  # noqa: E402
from cli.processes import start_processor, stop_processor, wait_until  # noqa: E402
from deploy.fcm_emulator.harness import FcmEmulator  # noqa: E402
from processors.persister.settings import PersisterSettings  # noqa: E402
from processors.push.rules import payload_for  # noqa: E402
from sinks.fcm.messages import encode, to_message  # noqa: E402
from sinks.postgres.migrate import upgrade  # noqa: E402
from sinks.postgres.tokens import register_token  # noqa: E402
from streams.clients import build_producer  # noqa: E402
from streams.messages import PUSH_REQUEST, Priority, PushRequest, utcnow  # noqa: E402
from streams.serde import AvroSerde, SchemaStore  # noqa: E402
from streams.topics import PUSH  # noqa: E402

BASE_DB = os.environ.get("HERALD_DATABASE_URL", "postgresql+psycopg://herald@127.0.0.1:5432/herald")
EVENT_TYPES = ["LAB_RESULT_RECEIVED", "APPOINTMENT_SCHEDULED", "ENCOUNTER_SIGNED", "MEDICATION_PRESCRIBED"]


def fresh_database() -> str:
    name = f"herald_bench_push_{uuid.uuid4().hex[:6]}"
    with create_engine(BASE_DB, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(BASE_DB).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    name = make_url(url).database
    with create_engine(BASE_DB, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def world(users: int, requests: int, rng: random.Random):
    devices = {
        f"bench-u{i:05d}": [f"bench-u{i:05d}-{n}:APA91b{rng.getrandbits(96):024x}" for n in range(rng.randint(1, 2))]
        for i in range(users)
    }
    now = utcnow()
    pushes = [
        PushRequest(
            uuid.UUID(int=rng.getrandbits(128), version=4),
            rng.choice(list(devices)),
            "org-1",
            rng.choice(EVENT_TYPES),
            Priority.HIGH,
            now,
            now,
            resource_type="Observation",
            resource_id=f"observation-{i:x}",
        )
        for i in range(requests)
    ]
    return devices, pushes


def register(database_url: str, devices: dict[str, list[str]]) -> None:
    engine = create_engine(database_url)
    now = utcnow()
    with engine.begin() as conn:
        for user, tokens in devices.items():
            for token in tokens:
                register_token(conn, token=token, user_id=user, platform="android", now=now)
    engine.dispose()


def publish(settings: PersisterSettings, pushes: list[PushRequest]) -> None:
    serde = AvroSerde(PUSH_REQUEST, SchemaStore())
    producer = build_producer(settings)
    for p in pushes:
        while True:
            try:
                producer.produce(settings.topic(PUSH), serde.encode(p.to_avro()), p.key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def accepted(emulator: FcmEmulator) -> int:
    return httpx.get(f"{emulator.url}/emulator/stats", timeout=10).json()["accepted"]


def run_sender(settings, database_url: str, emulator: FcmEmulator, expected: int, log: str) -> dict:
    env = {
        "HERALD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_TOPIC_PREFIX": settings.topic_prefix,
        "HERALD_GROUP_PREFIX": settings.group_prefix,
        "HERALD_METRICS_PORT": "0",
        "HERALD_FCM_ENDPOINT": emulator.url,
    }
    proc = start_processor("processors.push", env=env, log_path=log)
    try:
        wait_until(lambda: accepted(emulator) > 0, 60, interval=0.02, what="the first push")
        started, at_start = time.monotonic(), accepted(emulator)
        wait_until(lambda: accepted(emulator) >= expected, 600, interval=0.1, what="every push")
        seconds = time.monotonic() - started
    finally:
        stop_processor(proc)
    return {"pushes": expected - at_start, "seconds": seconds, "per_s": (expected - at_start) / seconds}


def bodies(pushes: list[PushRequest], devices: dict[str, list[str]], limit: int) -> list[bytes]:
    now = utcnow()
    out = []
    for p in pushes:
        payload = payload_for(p, now=now, ttl_s=86_400)
        out += [
            json.dumps({"message": encode(to_message(payload, t))}, separators=(",", ":")).encode()
            for t in devices[p.user_id]
        ]
        if len(out) >= limit:
            return out[:limit]
    return out


async def bare_httpx(url: str, messages: list[bytes], concurrency: int) -> dict:
    headers = {"Authorization": "Bearer bench", "Content-Type": "application/json; charset=UTF-8"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = list(messages)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker():
            while queue:
                (await client.post(url, content=queue.pop(), headers=headers)).raise_for_status()

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.monotonic() - started
    return {"pushes": len(messages), "seconds": seconds, "per_s": len(messages) / seconds}


async def raw_asyncio(url: str, messages: list[bytes], concurrency: int) -> dict:
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    queue = list(messages)

    async def worker():
        reader, writer = await asyncio.open_connection(host, int(port))
        while queue:
            body = queue.pop()
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bench\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            await reader.readexactly(int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]))
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.monotonic() - started
    return {"pushes": len(messages), "seconds": seconds, "per_s": len(messages) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--ceiling-messages", type=int, default=3000)
    parser.add_argument(
        "--concurrency", type=int, default=48, help="connections of the ceiling clients (the sender's pool size)"
    )
    args = parser.parse_args()

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    database_url = fresh_database()
    settings = PersisterSettings(topic_prefix=f"{prefix}.", group_prefix=f"{prefix}-")
    scratch_topics(settings, partitions=6)
    emulator = FcmEmulator.start(Path(f"/tmp/{prefix}-emulator.log"))
    try:
        devices, pushes = world(args.users, args.requests, random.Random(42))
        register(database_url, devices)
        publish(settings, pushes)
        expected = sum(len(devices[p.user_id]) for p in pushes)
        print(f"{args.requests} push requests for {args.users} users = {expected} pushes on {settings.topic(PUSH)}")
        sender = run_sender(settings, database_url, emulator, expected, f"/tmp/{prefix}-sender.log")
        httpx.delete(f"{emulator.url}/emulator/messages", timeout=10)
        url = f"{emulator.url}/v1/projects/herald-local/messages:send"
        messages = bodies(pushes, devices, args.ceiling_messages)
        ceiling = asyncio.run(bare_httpx(url, messages, args.concurrency))
        raw = asyncio.run(raw_asyncio(url, bodies(pushes, devices, args.ceiling_messages * 3), args.concurrency))
        report(sender, ceiling, raw)
    finally:
        emulator.stop()
        drop_database(database_url)


def report(sender: dict, ceiling: dict, raw: dict) -> None:
    print(
        f"push sender (Kafka → firebase-admin → emulator): {sender['pushes']} pushes in {sender['seconds']:.1f}s "
        f"= {sender['per_s']:,.0f} pushes/s"
    )
    print(
        f"emulator ceiling, bare httpx client:   {ceiling['pushes']} in {ceiling['seconds']:.1f}s = {ceiling['per_s']:,.0f}/s"
    )
    print(f"emulator ceiling, raw asyncio client:  {raw['pushes']} in {raw['seconds']:.1f}s = {raw['per_s']:,.0f}/s")
    print(
        f"ratio sender / bare-httpx ceiling: {sender['per_s'] / ceiling['per_s']:.2f}; "
        f"sender / raw-asyncio ceiling: {sender['per_s'] / raw['per_s']:.2f}"
    )
    print(
        f"target ≥ 2,000 pushes/s: {'met' if sender['per_s'] >= 2000 else 'NOT met'}; "
        f"≥ 0.5 of the bare-client ceiling: {'met' if sender['per_s'] >= 0.5 * ceiling['per_s'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
