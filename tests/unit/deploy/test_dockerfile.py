"""The Dockerfile at the repository root: one image for every process, built in two stages.

No container engine runs where the tests run, so the image is not built here; these tests read the
Dockerfile's instructions and check what the image promises: hash-checked installs from requirements.lock
into a venv, a slim final stage without compilers that copies the venv and the code, a user that is not
root, ``herald`` as the entry point, and no HEALTHCHECK (the orchestrator's probes do that).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("build-essential", "gcc", "g++", "clang", "make", "cc1", "libc6-dev", "python3-dev")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            result.append((keyword.upper(), " ".join(args.split())))
    return result


def stages(text: str) -> list[Stage]:
    args = {}
    found: list[Stage] = []
    for keyword, rest in instructions(text):
        if keyword == "ARG" and not found and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            found.append(Stage(base, name))
        elif found:
            found[-1].instructions.append((keyword, rest))
    return found


def test_the_image_is_built_in_two_stages_on_the_slim_python_311_base():
    built = stages(DOCKERFILE.read_text())
    assert len(built) >= 2, "a builder stage and a runtime stage"
    assert all(stage.base == "python:3.11-slim" for stage in built), [s.base for s in built]


def test_the_builder_installs_the_lock_with_hashes_into_a_venv():
    builder = stages(DOCKERFILE.read_text())[0]
    runs = builder.arguments("RUN")
    assert any("python -m venv /opt/herald/venv" in r for r in runs)
    install = [r for r in runs if "pip install" in r and "requirements.lock" in r]
    assert install and all("--require-hashes" in r for r in install), runs
    assert any("requirements.lock" in c for c in builder.arguments("COPY"))
    assert any("pip install --no-deps" in r for r in runs), "Herald on top of the lock, resolving nothing again"


def test_the_final_stage_copies_the_venv_and_the_code_and_installs_no_build_tools():
    builder, final = stages(DOCKERFILE.read_text())[0], stages(DOCKERFILE.read_text())[-1]
    copies = final.arguments("COPY")
    assert f"--from={builder.name} /opt/herald/venv /opt/herald/venv" in copies
    assert f"--from={builder.name} /opt/herald/app /opt/herald/app" in copies
    for run in final.arguments("RUN"):
        assert "apt-get install" not in run and "pip install" not in run, run
        assert not any(re.search(rf"(^|\s){re.escape(tool)}(\s|$)", run) for tool in BUILD_TOOLS), run


def test_every_package_of_the_code_is_copied_into_the_image():
    copied = " ".join(stages(DOCKERFILE.read_text())[0].arguments("COPY"))
    for package in ("streams", "schemas", "processors", "sinks", "api", "cli"):
        assert f"{package} ./{package}" in copied, package
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not {"streams", "schemas", "processors", "sinks", "api", "cli", "requirements.lock"} & set(ignored)


def test_the_process_runs_as_a_user_that_is_not_root():
    users = stages(DOCKERFILE.read_text())[-1].arguments("USER")
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "numeric, so Kubernetes' runAsNonRoot can verify it"


def test_herald_is_the_entry_point_the_process_name_the_command_and_there_is_no_healthcheck():
    final = stages(DOCKERFILE.read_text())[-1]
    assert json.loads(final.arguments("ENTRYPOINT")[-1]) == ["herald"]
    assert json.loads(final.arguments("CMD")[-1])[:1] == ["run"]
    assert not any(kw == "HEALTHCHECK" for s in stages(DOCKERFILE.read_text()) for kw, _ in s.instructions)


def test_the_parser_sees_a_compiler_installed_in_a_final_stage():
    broken = "FROM python:3.11-slim AS b\nRUN true\nFROM python:3.11-slim\nRUN apt-get update && \\\n apt-get install -y gcc\n"
    (run,) = stages(broken)[-1].arguments("RUN")
    assert run == "apt-get update && apt-get install -y gcc"
    assert any(re.search(rf"(^|\s){re.escape(tool)}(\s|$)", run) for tool in BUILD_TOOLS)
