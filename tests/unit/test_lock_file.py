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
    for extra in ("test", "bench", "dev"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {m.group(1).lower().replace("_", "-") for m in re.finditer(r"^([A-Za-z0-9_.-]+)==\S+ \\$", lock, re.M)}
    assert wanted <= pinned, f"not in requirements.lock (run `make upgrade-deps`): {sorted(wanted - pinned)}"
    assert lock.count("--hash=sha256:") >= len(pinned)


def test_every_locked_version_is_in_the_range_pyproject_allows():
    """A narrowed range (firebase-admin's, pinned to what its contract test covers) must still hold the
    locked version, else installs from the lock and from pyproject.toml disagree."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in ("test", "bench", "dev"):
        requirements += [Requirement(r) for r in project["optional-dependencies"][extra]]
    lock = (ROOT / "requirements.lock").read_text()
    locked = {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.M)
    }
    outside = {
        r.name: locked[_name(r.name)]
        for r in requirements
        if _name(r.name) in locked and not r.specifier.contains(locked[_name(r.name)], prereleases=True)
    }
    assert outside == {}, "requirements.lock pins versions pyproject.toml excludes (run `make upgrade-deps`)"
