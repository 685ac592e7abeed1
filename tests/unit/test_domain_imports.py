"""Import direction around the notification domain, read from the source with ``ast`` (nothing imported).

The domain package (processors/notifications) is pure: no sink, API, CLI, or Kafka runtime. The
processes that notify (fan-out, scheduler, reconciler, push sender) and the API depend on it and on
the shared edges (processors/notifications_io), never on one another, so changing one of them does
not ripple into the others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_FORBIDDEN = (
    "sinks",
    "api",
    "cli",
    "streams.runtime",
    "streams.checkpoint",
    "streams.app",
    "processors.notifications_io",
)
# Each consumer of the domain, and the packages of the others it must not import.
CONSUMERS = {
    "processors/fanout": "processors.fanout",
    "processors/scheduler": "processors.scheduler",
    "processors/reconciler": "processors.reconciler",
    "processors/push": "processors.push",
    "api": "api",
}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, as written (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_the_domain_package_imports_no_edge():
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in sources("processors/notifications")
        for module in imports_of(path)
        if any(within(module, forbidden) for forbidden in DOMAIN_FORBIDDEN)
    }
    assert not offending


@pytest.mark.parametrize("folder", sorted(CONSUMERS))
def test_the_domains_consumers_do_not_import_one_another(folder):
    others = [package for other, package in CONSUMERS.items() if other != folder]
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in sources(folder)
        for module in imports_of(path)
        if any(within(module, package) for package in others)
    }
    assert not offending


def test_the_shared_edges_import_none_of_the_processes_that_use_them():
    offending = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in sources("processors/notifications_io")
        for module in imports_of(path)
        if any(within(module, package) for package in CONSUMERS.values())
    }
    assert not offending


def test_the_check_sees_a_forbidden_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from processors.fanout.app import Fanout\nimport sinks.postgres.held\n")
    assert {"processors.fanout.app", "sinks.postgres.held"} <= imports_of(source)
