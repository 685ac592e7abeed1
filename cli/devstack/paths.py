"""Where the local stack keeps things: the repo's deploy/ templates, the jar
cache ($HERALD_CACHE_DIR) and the state dir ($HERALD_STATE_DIR) with data,
logs, pid files and devstack.json. Nothing is written inside the repo."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY_DIR = REPO_ROOT / "deploy"


def cache_dir() -> Path:
    """Where downloaded jars live; shared by every checkout of the repo."""
    return Path(os.environ.get("HERALD_CACHE_DIR") or Path.home() / ".cache" / "herald")


def state_dir() -> Path:
    """Where data, logs, pid files and devstack.json live (created on demand)."""
    path = Path(os.environ.get("HERALD_STATE_DIR") or Path.home() / ".local" / "state" / "herald")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _logs_dir() -> Path:
    path = state_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
