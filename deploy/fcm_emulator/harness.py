"""The emulator as a child process, with its admin API: used by the integration tests and the benchmarks
(neither imports the other's code), so it lives with the emulator."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


@dataclass
class FcmEmulator:
    """A running emulator and its admin API; over https:// when started with ``tls=(cert, key)`` (PEM
    files). The admin calls trust ``ca_file``: the CA that signed the certificate, or by default the
    certificate itself (a self-signed one)."""

    url: str
    process: subprocess.Popen | None = None
    ca_file: str | None = None

    @classmethod
    def start(
        cls, log_path: Path, port: int | None = None, tls: tuple[str, str] | None = None, ca_file: str | None = None
    ) -> "FcmEmulator":
        port = port or _free_port()
        command = [sys.executable, "-m", "deploy.fcm_emulator", "--port", str(port)]
        if tls:
            command += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        emulator = cls(f"{'https' if tls else 'http'}://127.0.0.1:{port}", proc, (ca_file or tls[0]) if tls else None)
        deadline = time.monotonic() + 20
        while not emulator.answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                emulator.stop()
                raise TimeoutError(f"the FCM emulator did not answer on port {port} (log: {log_path})")
            time.sleep(0.1)
        return emulator

    def _verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1, verify=self._verify()).status_code == 200
        except httpx.HTTPError:
            return False

    def fault(self, **spec) -> None:
        httpx.post(f"{self.url}/emulator/faults", json=spec, timeout=5, verify=self._verify()).raise_for_status()

    def reset(self) -> None:
        httpx.delete(f"{self.url}/emulator/faults", timeout=5, verify=self._verify()).raise_for_status()
        httpx.delete(f"{self.url}/emulator/messages", timeout=5, verify=self._verify()).raise_for_status()

    def messages(self, token: str | None = None) -> list[dict]:
        params = {"token": token} if token else {}
        return httpx.get(f"{self.url}/emulator/messages", params=params, timeout=30, verify=self._verify()).json()[
            "messages"
        ]

    def attempts(self, token: str | None = None) -> list[dict]:
        params = {"token": token} if token else {}
        return httpx.get(f"{self.url}/emulator/attempts", params=params, timeout=30, verify=self._verify()).json()[
            "attempts"
        ]

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def _free_port() -> int:
    """A port nobody listens on now (the OS picks it; the emulator binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
