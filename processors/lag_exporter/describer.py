"""``describe_consumer_groups`` in a child process of its own, so librdkafka can abort it and not us.

An AdminClient's coordinator-targeted calls (DescribeConsumerGroups, ListConsumerGroupOffsets, ...)
can abort the whole process when the broker connection drops mid-call: librdkafka frees the call's
"enqueue once" handle on the error path and later trips ``eonce->refcnt > 0`` on it (an open upstream
bug; measured: a client describing groups in a loop across a broker kill aborted its process). A
group's state, member count and assignment have no other source, so the call runs here, in a
long-lived child owning its own AdminClient. A child that dies, errs or does not answer in time is a
failed collection; the parent kills it and the next collection starts a new one
(docs/decisions/0102-lag-exporter-recovery-and-staleness.md).
"""

from __future__ import annotations

import logging
import multiprocessing

from processors.lag_exporter.broker import GroupInfo


class DescribeFailed(Exception):
    """The child answered with an error, died, or did not answer in time."""


def _serve(conn, bootstrap: str, timeout_s: float) -> None:
    """The child: one AdminClient; answers each list of groups with ("ok", infos) or ("error", text)."""
    from confluent_kafka.admin import AdminClient

    from processors.lag_exporter import broker

    quiet = logging.getLogger("herald.lag_exporter.describer")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False  # the parent reports failures; librdkafka's lines here would be duplicates
    admin = AdminClient({"bootstrap.servers": bootstrap, "reconnect.backoff.max.ms": 1000, "logger": quiet})  # type: ignore[dict-item]  # confluent_kafka's config type omits its documented "logger"
    while True:
        try:
            groups = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if groups is None:
            return
        try:
            conn.send(("ok", broker.describe_groups(admin, groups, timeout_s)))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent as text
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class GroupDescriber:
    """The parent's handle on the child. Not reusable after a failure (an answer may still be on its
    way): ``broken`` is then set and the owner builds a new one."""

    def __init__(self, bootstrap: str, timeout_s: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child_end, bootstrap, timeout_s), daemon=True, name="lag-exporter-describer"
        )
        self._process.start()
        child_end.close()
        self._wait_s = 2 * timeout_s + 10.0  # its own timeouts, and a cold start (spawn, imports)
        self.broken = False

    def describe(self, groups: list[str]) -> dict[str, GroupInfo]:
        if not groups:
            return {}
        if self.broken:
            raise DescribeFailed("describe process already failed")
        try:
            self._conn.send(groups)
            if not self._conn.poll(self._wait_s):
                raise DescribeFailed(f"describe process did not answer within {self._wait_s:.0f}s")
            kind, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            self.broken = True
            raise DescribeFailed(f"describe process died (exit code {self._process.exitcode})") from exc
        except DescribeFailed:
            self.broken = True
            raise
        if kind != "ok":
            self.broken = True
            raise DescribeFailed(value)
        return value

    def close(self) -> None:
        """Ends the child: asked to stop when healthy, killed when not."""
        if self._process.is_alive() and not self.broken:
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._process.join(2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()
