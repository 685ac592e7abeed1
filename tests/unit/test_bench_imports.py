"""The benchmarks import no test code: what both need lives in the product or beside the emulator
(``deploy.fcm_emulator.harness``, ``cli.devstack.databases``), so a test refactor never breaks a bench."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def imported_modules(source: str) -> list[str]:
    """Every module an ``import`` or ``from … import`` names, at any depth (function-level ones too)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_no_benchmark_imports_the_tests():
    files = sorted(BENCH.rglob("*.py"))
    assert len(files) > 5  # the benchmarks were found

    offenders = {
        str(f.relative_to(BENCH)): m
        for f in files
        for m in imported_modules(f.read_text())
        if m == "tests" or m.startswith("tests.")
    }

    assert offenders == {}


def test_the_check_sees_both_import_forms():
    assert imported_modules("import tests.ports\ndef f():\n    from tests.integration.fcm import device\n") == [
        "tests.ports",
        "tests.integration.fcm",
    ]
