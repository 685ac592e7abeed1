"""requirements.lock pins every dependency pyproject.toml names, with hashes (`make upgrade-deps` refreshes it)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_pinned_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("test", "bench"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {m.group(1).lower().replace("_", "-") for m in re.finditer(r"^([A-Za-z0-9_.-]+)==\S+ \\$", lock, re.M)}
    assert wanted <= pinned, f"not in requirements.lock (run `make upgrade-deps`): {sorted(wanted - pinned)}"
    assert lock.count("--hash=sha256:") >= len(pinned)
