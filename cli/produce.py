"""``herald produce demo``: the demo world's directory, then its activity events at a given rate."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from processors.demo.traffic import DemoWorld, build_world, demo_events
from streams.messages import DIRECTORY_CHANGE, ActivityEvent, utcnow
from streams.producer import ActivityPublisher, Publisher
from streams.serde import AvroSerde, SchemaStore, registry_client
from streams.settings import ProducerSettings
from streams.topics import DIRECTORY


@dataclass(frozen=True)
class ProduceReport:
    directory_records: int
    events: int
    failures: int
    seconds: float


def publish_directory(publisher: Publisher, settings: ProducerSettings, world: DemoWorld) -> int:
    """Publishes every user and care-team membership of the world; returns how many."""
    topic = settings.topic(DIRECTORY)
    serde = AvroSerde(
        DIRECTORY_CHANGE,
        SchemaStore(),
        registry=registry_client(settings.schema_registry_url),
        subject=f"{topic}-value",
    )
    changes = world.directory(utcnow())
    for change in changes:
        publisher.publish(topic, change.key, serde.encode(change.to_avro()))
    return len(changes)


def publish_events(activity: ActivityPublisher, events, rate: float) -> int:
    """Publishes events, paced to ``rate`` per second when rate > 0; returns how many."""
    started = time.monotonic()
    count = 0
    for count, event in enumerate(events, start=1):
        activity.publish(event)
        if rate > 0:
            ahead = count / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)  # pacing an open-loop load generator, not waiting on a condition
    return count


def produce_demo(
    settings: ProducerSettings,
    *,
    events: int,
    rate: float,
    seed: int = 7,
    directory: bool = True,
    event_seed: int | None = -1,
) -> ProduceReport:
    """The demo world (``seed``) and ``events`` events; blocks until the broker acknowledged them.

    The events come from ``event_seed`` (default ``seed + 1``: the same events each run, which the
    idempotency tests use; None: fresh events each run, as the demo wants)."""
    failures: list = []
    activity = ActivityPublisher.from_settings(settings, on_failure=failures.append)
    started = time.monotonic()
    now = utcnow()
    world = build_world(random.Random(seed), now)
    published_dir = publish_directory(activity.publisher, settings, world) if directory else 0
    rng = random.Random(seed + 1 if event_seed == -1 else event_seed)
    stream = demo_events(world, rng, events, now - timedelta(seconds=events * 0.05))
    count = publish_events(activity, stream, rate)
    pending = activity.close(60)
    return ProduceReport(published_dir, count, len(failures) + pending, time.monotonic() - started)


def demo_event_list(events: int, seed: int = 7) -> list[ActivityEvent]:
    """The exact events ``produce_demo`` would publish for a seed (tests compare against it)."""
    now = utcnow()
    world = build_world(random.Random(seed), now)
    return list(demo_events(world, random.Random(seed + 1), events, now - timedelta(seconds=events * 0.05)))


def seed_demo_preferences(database_url: str, seed: int = 7, share: float = 0.25) -> int:
    """Gives a share of the demo users stored preferences with pushes from NORMAL up, half of them
    with quiet hours around now (in their zone), so the demo shows pushes sent at once and held;
    the other users keep the defaults (pushes for HIGH and URGENT only)."""
    from sqlalchemy import create_engine, text

    from processors.catalogue import DEFAULT_ENABLED_TYPES

    world = build_world(random.Random(seed), utcnow())
    users = [u for org in world.organizations for u in org.users]
    chosen = random.Random(seed).sample(users, int(len(users) * share))
    rows = [
        {
            "u": u.user_id,
            "types": sorted(DEFAULT_ENABLED_TYPES),
            "tz": u.timezone,
            **(_window_around_now(u.timezone) if i % 2 == 0 else {"start": None, "end": None}),
        }
        for i, u in enumerate(chosen)
    ]
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO notification_preferences (user_id, push_enabled, email_enabled, enabled_types, "
                "min_push_priority, quiet_hours_start, quiet_hours_end, timezone) VALUES "
                "(:u, true, false, :types, 'NORMAL', :start, :end, :tz) ON CONFLICT (user_id) DO UPDATE SET "
                "quiet_hours_start = EXCLUDED.quiet_hours_start, quiet_hours_end = EXCLUDED.quiet_hours_end"
            ),
            rows,
        )
    engine.dispose()
    return len(rows)


def _window_around_now(zone: str | None) -> dict:
    from zoneinfo import ZoneInfo

    local = utcnow().astimezone(ZoneInfo(zone or "UTC"))
    return {
        "start": (local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        "end": (local + timedelta(minutes=2)).time().replace(second=0, microsecond=0),
    }


@dataclass(frozen=True)
class DeviceReport:
    users: int
    tokens: int
    scripted_unregistered: int


def register_demo_devices(
    database_url: str, fcm_endpoint: str | None, seed: int = 7, unregistered_share: float = 0.1
) -> DeviceReport:
    """Registers 1–2 device tokens per demo user (``sinks.postgres.tokens.register_token``; the same
    tokens each run, refreshed) and scripts a share of them in the FCM emulator at ``fcm_endpoint`` as
    UNREGISTERED, so the demo shows tokens being retired. Without an emulator nothing is scripted."""
    from sqlalchemy import create_engine

    from sinks.postgres.tokens import register_token

    rng = random.Random(seed + 2)
    now = utcnow()
    world = build_world(random.Random(seed), now)
    devices = [
        (u.user_id, f"demo-{u.user_id}-{n}:APA91b{rng.getrandbits(96):024x}", rng.choice(["android", "ios"]))
        for org in world.organizations
        for u in org.users
        for n in range(rng.randint(1, 2))
    ]
    engine = create_engine(database_url)
    with engine.begin() as conn:
        for age, (user_id, token, platform) in enumerate(devices):
            register_token(conn, token=token, user_id=user_id, platform=platform, now=now - timedelta(seconds=age))
    engine.dispose()
    doomed = [token for _, token, _ in devices if rng.random() < unregistered_share]
    scripted = _script_unregistered(fcm_endpoint, doomed) if fcm_endpoint else 0
    return DeviceReport(len({u for u, _, _ in devices}), len(devices), scripted)


def _script_unregistered(endpoint: str, tokens: list[str]) -> int:
    """Tells the emulator these tokens are UNREGISTERED (app uninstalled); 0 if no emulator answers."""
    import httpx

    try:
        for token in tokens:
            httpx.delete(f"{endpoint}/emulator/faults", params={"token": token}, timeout=5).raise_for_status()
        httpx.post(
            f"{endpoint}/emulator/faults", json=[{"token": t, "code": "UNREGISTERED"} for t in tokens], timeout=5
        ).raise_for_status()
    except httpx.HTTPError:
        return 0
    return len(tokens)
