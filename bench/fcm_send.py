"""CPU per push of the sender's FCM client (``sinks.fcm.client.FcmClient``) against an FCM emulator of its own.

Two ways of building the same pushes, interleaved batch by batch in one run:
* shared: ``to_messages`` — a push's messages share every part but the token, so the client has the
  SDK encode each push once (``messages.WireEncoder``); what the push sender does;
* alone: one ``Message`` built per device — the SDK encodes every message.
Reports CPU of the calling thread per push (the client's event loop runs on it) and the ratio.

    .venv/bin/python bench/fcm_send.py [--batches 40] [--pushes 200] [--devices 2]

Needs nothing but this repository (the emulator runs in a subprocess on a free port).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import percentile  # noqa: E402
from deploy.fcm_emulator.harness import FcmEmulator  # noqa: E402
from processors.push.rules import payload_for  # noqa: E402
from processors.push.settings import PushSenderSettings  # noqa: E402
from sinks.fcm.client import FcmClient  # noqa: E402
from sinks.fcm.messages import to_message, to_messages  # noqa: E402
from streams.messages import Priority, PushRequest  # noqa: E402

NOW = datetime.now(timezone.utc)


def batch(pushes: int, devices: int) -> list[tuple]:
    """``pushes`` payloads with ``devices`` tokens each (a token is ~150 characters, as FCM's are)."""
    out = []
    for i in range(pushes):
        request = PushRequest(uuid.uuid4(), f"u-{i}", "org-1", "LAB_RESULT_RECEIVED", Priority.HIGH, NOW, NOW)
        tokens = [f"tok-{i:06d}-{d}-" + "a" * 140 for d in range(devices)]
        out.append((payload_for(request, now=NOW, ttl_s=3600), tokens))
    return out


def shared(pushes: list[tuple]) -> list:
    return [m for payload, tokens in pushes for m in to_messages(payload, tokens)]


def alone(pushes: list[tuple]) -> list:
    return [to_message(payload, t) for payload, tokens in pushes for t in tokens]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--pushes", type=int, default=200, help="payloads per send")
    parser.add_argument("--devices", type=int, default=2, help="tokens per payload")
    args = parser.parse_args()
    emulator = FcmEmulator.start(Path(f"/tmp/bench-fcm-send-{uuid.uuid4().hex[:6]}.log"))
    client = FcmClient(PushSenderSettings(fcm_endpoint=emulator.url))
    try:
        cpu = {"shared": [], "alone": []}
        client.send(shared(batch(args.pushes, args.devices)))  # connections opened, code warmed
        for i in range(args.batches):
            ways = [("shared", shared), ("alone", alone)]
            for name, build in ways if i % 2 else reversed(ways):  # alternate which goes first
                pushes = batch(args.pushes, args.devices)
                started = time.thread_time()
                results = client.send(build(pushes))
                cpu[name].append((time.thread_time() - started) / len(results) * 1000)
                assert all(r.ok for r in results), "the emulator refused a push"
    finally:
        client.close()
        emulator.stop()
    med = {name: percentile(values, 50) for name, values in cpu.items()}
    print(
        f"{args.batches} sends of {args.pushes} pushes x {args.devices} devices each way; CPU of the sending thread per push (median of sends):"
    )
    print(f"  shared parts, encoded once per push (the sender): {med['shared']:.3f} ms")
    print(f"  a message per device, each encoded by the SDK:    {med['alone']:.3f} ms")
    print(f"  shared / alone: {med['shared'] / med['alone']:.2f}")


if __name__ == "__main__":
    main()
