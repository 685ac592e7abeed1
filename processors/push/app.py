"""The push sender's processor: a batch of PushRequests → FCM sends → what the runtime makes durable.

``handle`` does I/O on purpose (the Runtime allows it): it reads the users' tokens and the pairs
already sent (one connection), sends every push of the batch concurrently through firebase-admin,
and returns an Outcome: ``writes`` (deliveries, bell status, retired tokens, scheduled retries, the
urgent alerts FCM accepted a push of) for
``PushSink`` in one transaction, and the requests given up on as dead letters with FCM headers.

Delivery guarantee: at least once per (notification, token), exactly once in the normal case. A
push is recorded ``sent`` in the batch's transaction *after* FCM accepted it, so a crash between the
send and that commit re-sends those pushes once on restart. The runtime is pipelined for this processor
(batch N+1 is sent while N's transaction runs), so the duplicate window is two batches
(docs/decisions/0161-push-sender-stays-pipelined.md). The device collapses such a duplicate (collapse
key = notification id).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Protocol

from sqlalchemy import Engine

from processors.notifications.alerts import ALERT_PUSH_KIND
from processors.push.metrics import PushHooks
from processors.push.outage import FcmOutage, batch_class
from processors.push.rules import (
    Decision,
    GiveUp,
    PushPayload,
    PushPolicy,
    Retry,
    Send,
    Verdict,
    decide,
    payload_for,
    select_tokens,
)
from sinks.fcm.messages import FcmMessage, to_messages
from sinks.fcm.results import SendResult
from sinks.postgres.push import DeliveryRow, PushWrites, RetryRow, sent_pairs
from sinks.postgres.tokens import DeviceToken, active_tokens
from streams import tracing
from streams.deadletter import H_FIRST_FAILED, H_REPLAY_OF
from streams.errors import SinkBackpressure
from streams.messages import PushRequest, utcnow
from streams.records import DeadLetter, Outcome, Record

log = logging.getLogger("herald.push")
H_PUSH_CODE = "herald.push.error-code"
H_PUSH_ATTEMPTS = "herald.push.attempts"
H_PUSH_LAST_FAILED = "herald.push.last-failed-at"


@dataclass
class Item:
    """One request of the batch and the devices it goes to this time."""

    record: Record
    request: PushRequest
    attempt: int  # this attempt's number, 1-based (a replayed request starts again at 1)
    payload: PushPayload
    had_devices: bool
    to_send: list[DeviceToken]


@dataclass
class _Tallies:
    """One batch's decisions counted for the metrics (``PushHooks.on_decided``)."""

    retired: Counter[str] = field(default_factory=Counter)  # tokens retired, by FCM code
    retries: Counter[str] = field(default_factory=Counter)  # retries scheduled, by last error
    dead: Counter[tuple[str, str]] = field(default_factory=Counter)  # dead letters, by (code, kind)


class FcmSender(Protocol):
    """What the push sender needs of FCM (``sinks.fcm.client.FcmClient``): one result per message, in
    order, a failed send being a result, never a raise."""

    def send(self, messages: list[FcmMessage]) -> list[SendResult]: ...


class PushSender:
    """``handle(batch)`` for the Runtime; the FCM client, reader engine and encoder are built in ``__main__``."""

    name = "push-sender"

    def __init__(
        self,
        *,
        reader: Engine,
        fcm: FcmSender,
        encode: Callable[[PushRequest], bytes],
        policy: PushPolicy,
        hooks: PushHooks | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        outage: FcmOutage | None = None,
    ) -> None:
        self._reader = reader  # sinks.postgres.engine.build_reader: autocommit, no pre-ping
        self._fcm = fcm
        self._encode = encode
        self._policy = policy
        self._hooks = hooks or PushHooks()
        self._clock = clock
        self._rng = rng
        self._outage = outage or FcmOutage()

    def handle(self, batch: list[Record]) -> Outcome[PushWrites]:
        """Sends the batch's pushes; raises SinkBackpressure while FCM is down (``processors.push.outage``:
        the runtime rewinds the batch and tries it again after the wait), any other raise also redoes the batch."""
        now = self._clock()
        items, skipped = self._plan(batch, now)
        pairs = [(item, token) for item in items for token in item.to_send]
        messages = [
            m
            for item in items
            if item.to_send
            for m in to_messages(item.payload, [token.token for token in item.to_send])
        ]
        if skipped:
            self._hooks.on_sent(Counter(), None, skipped)
        if tracing.ACTIVE:  # an "fcm send" span, and one in each traced request's trace
            with tracing.calling(
                "fcm send", [i.record.message for i, _ in pairs], {"herald.fcm.messages": len(messages)}
            ):
                results = self._send(messages)
        else:
            results = self._send(messages)
        sends: dict[int, list[Send]] = {}
        for (item, token), result in zip(pairs, results, strict=True):
            sends.setdefault(id(item), []).append(Send(token, result))
        return self._outcome(items, sends, self._clock())  # Retry-After counts from the answer, not the batch start

    def _send(self, messages: list[FcmMessage]) -> list[SendResult]:
        """The batch's sends, unless FCM is down: then SinkBackpressure (the runtime rewinds the batch and
        pauses its partitions for the wait). While down, the first message goes alone as a probe."""
        if self._outage.open and messages:
            probe = self._timed_send(messages[:1])
            if batch_class(probe) is not None:
                wait = self._outage.probe_failed(probe)
                self._hooks.on_outage(self._outage.cls)
                raise SinkBackpressure(
                    wait, f"FCM still down ({self._outage.cls}: {probe[0].code}); next probe in {wait:.1f}s"
                )
            log.warning("FCM answers again after %.0f s of outage; sending", self._outage.recovered())
            self._hooks.on_outage(None)
            return probe + self._timed_send(messages[1:])
        results = self._timed_send(messages)
        down_for = self._outage.observe(results)
        if down_for is not None:
            log.error(
                "FCM down (%s: %s for all %d sends of the batch); holding pushes back and probing with "
                "one message, next in %.1fs",
                self._outage.cls,
                results[0].code,
                len(results),
                down_for,
            )
            self._hooks.on_outage(self._outage.cls)
            raise SinkBackpressure(
                down_for, f"FCM down ({self._outage.cls}: {results[0].code}); next probe in {down_for:.1f}s"
            )
        return results

    def _timed_send(self, messages: list[FcmMessage]) -> list[SendResult]:
        started = time.monotonic()
        results = self._fcm.send(messages) if messages else []
        self._hooks.on_sent(Counter("OK" if r.ok else r.code for r in results), time.monotonic() - started, 0)
        return results

    def _plan(self, batch: list[Record], now: datetime) -> tuple[list[Item], int]:
        requests = [r.value for r in batch]
        # Two reads, each its own snapshot either way (READ COMMITTED), so outside a transaction.
        with self._reader.connect() as conn:
            tokens = active_tokens(conn, {r.user_id for r in requests}, now=now, max_age=self._policy.token_max_age)
            sent = sent_pairs(conn, sorted({r.notification_id for r in requests}))
        items, skipped = [], 0
        for record, request in zip(batch, requests, strict=True):
            devices = select_tokens(tokens.get(request.user_id, []), now=now, max_age=self._policy.token_max_age)
            to_send = [t for t in devices if (request.notification_id, t.token) not in sent]
            sent.update((request.notification_id, t.token) for t in to_send)  # a duplicate in the batch sends nothing
            skipped += len(devices) - len(to_send)
            items.append(
                Item(
                    record,
                    request,
                    _attempts_before(record, request) + 1,
                    payload_for(request, now=now, ttl_s=self._policy.ttl_s),
                    bool(devices),
                    to_send,
                )
            )
        return items, skipped

    def _outcome(self, items: list[Item], sends: dict[int, list[Send]], now: datetime) -> Outcome[PushWrites]:
        writes, dead = PushWrites(now=now), []
        tallies = _Tallies()
        for item in items:
            decision = decide(
                sends.get(id(item), []),
                attempt=item.attempt,
                had_devices=item.had_devices,
                now=now,
                policy=self._policy,
                rng=self._rng,
            )
            self._collect(item, decision, writes, now, tallies)
            if decision.give_up is not None:
                dead.append(self._dead_letter(item, decision.give_up, now))
        self._hooks.on_decided(retired=tallies.retired, retries=tallies.retries, dead=tallies.dead)
        return Outcome(writes=writes, dead_letters=dead)

    def _collect(self, item: Item, decision: Decision, writes: PushWrites, now: datetime, tallies: _Tallies) -> None:
        request = item.request
        for send in decision.sends:
            verdict, result = send.verdict, send.result
            status = Verdict.PERMANENT if verdict is Verdict.RETRY and decision.retry is None else verdict  # given up
            writes.deliveries.append(
                DeliveryRow(
                    request.notification_id,
                    send.token.token,
                    request.user_id,
                    status.value,
                    result.message_id,
                    result.code,
                    item.attempt,
                    request.occurred_at,
                )
            )
            if verdict is Verdict.RETIRE:
                reason = result.code or "UNKNOWN"  # a retiring verdict always comes with FCM's error code
                writes.retire.setdefault(reason, []).append(send.token.token)
                tallies.retired[reason] += 1
            elif verdict is Verdict.SENT:
                if request.kind == ALERT_PUSH_KIND and request.event_id is not None:
                    writes.accepted_alerts.add(request.event_id)
                if send.token.failure_count:
                    writes.recovered_tokens.append(send.token.token)
            else:
                writes.failed_tokens.append(send.token.token)
        if decision.bell_status:
            writes.bell.setdefault(decision.bell_status, []).append(request.notification_id)
        if decision.retry is not None:
            writes.retries.append(self._retry_row(item, decision.retry, now))
            tallies.retries[decision.retry.last_error] += 1
        if decision.give_up is not None:
            kind = "exhausted" if decision.give_up.retries_exhausted else "permanent"
            tallies.dead[(decision.give_up.code, kind)] += 1

    def _retry_row(self, item: Item, retry: Retry, now: datetime) -> RetryRow:
        request = item.request
        return RetryRow(
            request.notification_id,
            request.user_id,
            retry.attempt,
            retry.due_at,
            _first_failed(item.record) or now,
            retry.last_error,
            item.record.message.key(),
            self._encode(replace(request, attempt=retry.attempt)),
        )

    @staticmethod
    def _dead_letter(item: Item, give_up: GiveUp, now: datetime) -> DeadLetter:
        stamp = now.isoformat().encode()
        headers = (
            (H_PUSH_CODE, give_up.code.encode()),
            (H_PUSH_ATTEMPTS, str(give_up.attempts).encode()),
            (H_PUSH_LAST_FAILED, stamp),
            (H_FIRST_FAILED, stamp),
        )  # first failure: unless the record says earlier
        kind = "PushRetriesExhausted" if give_up.retries_exhausted else "PushPermanentError"
        log.warning(
            "push %s dead-lettered after %d attempts: %s", item.request.notification_id, give_up.attempts, give_up.code
        )
        return DeadLetter(give_up.reason, kind, item.record.message, headers)


def _header(record: Record, name: str) -> bytes | None:
    for key, value in record.message.headers() or []:
        if key == name:
            return value
    return None


def _attempts_before(record: Record, request: PushRequest) -> int:
    """Attempts already made; a request replayed from the DLQ gets a fresh budget."""
    return 0 if _header(record, H_REPLAY_OF) is not None else max(request.attempt, 0)


def _first_failed(record: Record) -> datetime | None:
    raw = _header(record, H_FIRST_FAILED)
    try:
        return datetime.fromisoformat(raw.decode()) if raw else None
    except ValueError:
        return None
