"""FCM emulator (deploy/fcm_emulator: FCM HTTP v1 + OAuth token endpoint) at
http://127.0.0.1:9099, or $HERALD_FCM_EMULATOR_PORT; run with this Python as
`python -m deploy.fcm_emulator`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cli.devstack.errors import DevstackError
from cli.devstack.paths import REPO_ROOT, _logs_dir
from cli.devstack.process import (
    _load_state,
    _port_open,
    _process_alive,
    _start_process,
    _stop_process,
    _update_state,
)
from cli.devstack.report import ServiceStatus, _say

FCM_EMULATOR_HOST = "127.0.0.1"
FCM_EMULATOR_READY_TIMEOUT_S = 20.0


def fcm_emulator_port() -> int:
    """9099 unless HERALD_FCM_EMULATOR_PORT says otherwise."""
    return int(os.environ.get("HERALD_FCM_EMULATOR_PORT") or 9099)


def fcm_emulator_url() -> str:
    return f"http://{FCM_EMULATOR_HOST}:{fcm_emulator_port()}"


def default_fcm_env(environ) -> dict[str, str]:
    """Env for local runs of the push sender: the emulator, unless FCM is configured (an endpoint,
    a service-account file, or Google application credentials)."""
    configured = ("HERALD_FCM_ENDPOINT", "HERALD_FCM_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS")
    return {} if any(environ.get(name) for name in configured) else {"HERALD_FCM_ENDPOINT": fcm_emulator_url()}


def _fcm_emulator_log() -> Path:
    return _logs_dir() / "fcm-emulator.log"


def _fcm_emulator_answers(timeout: float = 1.0) -> bool:
    """True if GET /healthz answers 200 (one short HTTP call, stdlib only)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{fcm_emulator_url()}/healthz", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def fcm_emulator_up() -> None:
    """Called by `up`: start the emulator unless ours (or another one) already answers."""
    if _fcm_emulator_answers():
        _say(f"fcm-emulator: already up at {fcm_emulator_url()}")
        if _process_alive("fcm-emulator") is None:
            _update_state("fcm-emulator", {"mode": "external"})
        return
    _stop_process("fcm-emulator")  # clears a stale pid file
    if _port_open(FCM_EMULATOR_HOST, fcm_emulator_port()):
        raise DevstackError(
            f"fcm-emulator: port {fcm_emulator_port()} is taken by something that is not "
            "the emulator; set HERALD_FCM_EMULATOR_PORT"
        )
    argv = [
        sys.executable,
        "-m",
        "deploy.fcm_emulator",
        "--host",
        FCM_EMULATOR_HOST,
        "--port",
        str(fcm_emulator_port()),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    _start_process(
        "fcm-emulator",
        argv,
        _fcm_emulator_log(),
        ready=_fcm_emulator_answers,
        timeout=FCM_EMULATOR_READY_TIMEOUT_S,
        env=env,
    )
    _say(f"fcm-emulator: up at {fcm_emulator_url()}")


def fcm_emulator_down() -> None:
    """Called by `down`: stop the emulator we started; leave any other alone."""
    if _load_state().get("fcm-emulator", {}).get("mode") == "external":
        _update_state("fcm-emulator", None)
        _say("fcm-emulator: not started by us, leaving it running")
        return
    _say("fcm-emulator: stopped" if _stop_process("fcm-emulator") else "fcm-emulator: was not running")


def fcm_emulator_status() -> ServiceStatus:
    pid = _process_alive("fcm-emulator")
    return ServiceStatus(
        "fcm-emulator",
        _fcm_emulator_answers(),
        fcm_emulator_url(),
        str(_fcm_emulator_log()),
        f"pid {pid}" if pid else "",
    )
