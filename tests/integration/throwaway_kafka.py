"""A second, throwaway KRaft broker for tests that need a fresh or restarted broker: the local
stack's broker (127.0.0.1:9092) serves everyone on this machine and is never formatted or stopped.

Built from cli/devstack/kafka.py's own pieces (the cached jars, deploy/kafka/server.properties) with
free ports and a data and logs dir under the test's temp dir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from cli.devstack import kafka as devkafka
from tests.ports import free_port, port_open


class ThrowawayKafka:
    """``format()`` once, then ``start()`` / ``kill()`` / ``stop()`` as often as needed; ``start``
    returns once metadata answers (what ``herald dev up`` waited for before it also waited for the
    coordinators), with the seconds that took."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port, self.controller_port = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.logs = root / "logs"
        self.config = root / "server.properties"
        self.proc: subprocess.Popen | None = None

    def format(self) -> None:
        devkafka._ensure_kafka_jars()
        self.logs.mkdir(parents=True, exist_ok=True)
        devkafka.render_kafka_config(
            self.config, self.root / "data", self.bootstrap, f"127.0.0.1:{self.controller_port}"
        )
        devkafka.format_kafka_storage(self.config, devkafka.new_cluster_id(), cwd=self.root, logs_dir=self.logs)

    def start(self, timeout: float = 90.0) -> float:
        started = time.monotonic()
        with open(self.logs / "kafka.out", "ab") as out:
            self.proc = subprocess.Popen(
                devkafka.kafka_broker_argv(self.config, self.logs),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.root,
            )
        deadline = started + timeout
        while not (port_open(self.port) and self.metadata_answers()):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the throwaway broker exited with {self.proc.returncode}; see {self.logs}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the throwaway broker did not answer within {timeout:.0f} s; see {self.logs}")
            time.sleep(0.1)
        return time.monotonic() - started

    def metadata_answers(self) -> bool:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": self.bootstrap, "logger": devkafka._silent_logger()}).list_topics(
                timeout=1
            )
            return True
        except KafkaException:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
