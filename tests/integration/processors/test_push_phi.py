"""No PHI reaches FCM: demo traffic through directory, fan-out and the push sender, payloads checked."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from cli.processes import wait_until
from processors.demo.traffic import _FIRST, _LAST, build_world, demo_events
from streams.topics import ACTIVITY, DIRECTORY
from tests.integration.fcm import device, register, sender_caught_up, start_sender
from tests.integration.helpers import lag, publish_directory, publish_events, set_preferences, start

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


def test_given_demo_traffic_then_no_push_payload_holds_a_patient_name_title_or_description(pipeline, fcm, tmp_path):
    world = build_world(random.Random(11), NOW, organizations=2, users_per_org=20, patients_per_org=30)
    users = [u.user_id for org in world.organizations for u in org.users]
    publish_directory(pipeline, world.directory(NOW))
    start(pipeline, "processors.directory", tmp_path)
    wait_until(lambda: lag(pipeline, "directory", DIRECTORY) == 0, 60, what="the directory")
    set_preferences(pipeline, [{"user_id": u, "min_push_priority": "LOW"} for u in users])  # push everything
    register(pipeline, {u: [device(u)] for u in users})
    events = list(demo_events(world, random.Random(12), 400, NOW - timedelta(minutes=5)))
    publish_events(pipeline, events)

    start(pipeline, "processors.fanout", tmp_path)
    start_sender(pipeline, tmp_path, fcm)
    wait_until(lambda: lag(pipeline, "fanout", ACTIVITY) == 0, 90, what="the fan-out")
    wait_until(lambda: sender_caught_up(pipeline), 90, what="the push sender")

    payloads = [json.dumps(m["message"]) for m in fcm.messages()]
    names = {n for org in world.organizations for n in org.patients.values()}
    words = set(_FIRST) | set(_LAST)
    texts = {e.title for e in events} | {e.description for e in events if e.description}
    patients = {e.patient_id for e in events if e.patient_id}
    assert len(payloads) > 100, "too few pushes to prove anything"
    leaks = [p for p in payloads if any(w in p for w in words | names | texts | patients)]
    assert leaks == []
