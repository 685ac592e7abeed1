"""The packages depend one way: streams (the generic Kafka runtime) ← sinks (Postgres, FCM) ←
processors (the apps and their rules) ← api ← cli. Each module is parsed, not imported, so an import
inside a function counts too; and the runtime defines no metric named for the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> packages it must not import
FORBIDDEN: dict[str, set[str]] = {
    "streams": {"processors", "sinks", "api", "cli", "deploy"},
    "sinks": {"processors", "api", "cli"},
    "processors": {"api", "cli"},
    "api": {"cli"},
}

# (importing module's package path prefix, imported module prefix): known exceptions, each with why.
ALLOWED: dict[tuple[str, str], str] = {
    # The sinks map the domain's value types (processors/notifications: pure, no I/O) to rows; that
    # package imports nothing but streams' message types, so no cycle runs through it.
    ("sinks/", "processors.notifications"): "sinks map domain values to rows",
    # The activity row stores the effective priority and visibility, which the catalogue (pure, imports
    # only streams' message types) gives.
    ("sinks/", "processors.catalogue"): "the activity row stores the catalogue's effective values",
}

DOMAIN_WORDS = ("fanout", "fan_out", "digest", "push", "token", "held")
METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``; relative imports stay in the package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def allowed(path: Path, module: str) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel.startswith(where) and (module == what or module.startswith(what + ".")) for where, what in ALLOWED)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_layer_imports_only_the_layers_below_it(package):
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in modules(package)
        for line, module in imported(path)
        if module.split(".")[0] in FORBIDDEN[package] and not allowed(path, module)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from processors.registry import PROCESSES\n    import api.main\n")
    assert [m for _, m in imported(probe)] == ["processors.registry", "api.main"]


def metric_names(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every prometheus_client metric defined in ``path`` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func in METRIC_TYPES and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def test_the_runtime_defines_no_metric_named_for_the_domain():
    domain = [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in modules("streams")
        for line, name in metric_names(path)
        if any(word in name for word in DOMAIN_WORDS)
    ]
    assert not domain, "domain metrics belong to their processor's metrics.py:\n" + "\n".join(domain)


def test_the_runtime_does_define_metrics_so_the_check_above_reads_them():
    assert any(name == "herald_records_in_total" for path in modules("streams") for _, name in metric_names(path))
