"""tests/unit mirrors the source tree, so the tests of a module are found without searching.

A test under ``tests/unit/<dirs>/`` sits in the directory of the package it tests (``<dirs>`` is a
package of the repository) and is named after one of that package's modules or subpackages:
``test_<module>.py`` or ``test_<module>_<aspect>.py``. Only the tests listed in ``REPOSITORY_WIDE``,
which check no single module, live at ``tests/unit/`` itself.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "tests" / "unit"

# Tests of the repository as a whole (layering, lock file, generated docs, schemas), not of one module.
REPOSITORY_WIDE = {
    "test_bench_imports.py": "bench/ imports nothing from tests/",
    "test_domain_imports.py": "import direction between the notification domain and the processes using it",
    "test_layers.py": "import direction between the top-level layers",
    "test_lock_file.py": "requirements.lock against pyproject.toml",
    "test_process_registry.py": "the process registry against the CLI, topics and docs",
    "test_repository_language.py": "wording of every file in the repository",
    "test_schema_compatibility.py": "the committed schemas/ files, version against version",
    "test_settings_doc.py": "docs/settings.md against every settings class",
    "test_tree_mirrors_source.py": "this layout rule",
    "test_typed_contracts.py": "mypy --strict over the runtime's contracts and a processor using them",
}

# Tests that sit in a mirrored directory but are named for no module there, each with the reason.
EXCEPTIONS = {
    "deploy/test_prometheus_rules.py": "checks deploy/prometheus (YAML rules, promtool tests), not a Python module",
    "deploy/test_dockerfile.py": "checks the Dockerfile at the repository root, not a Python module",
    "processors/test_notifying_settings.py": "compares the fan-out's, scheduler's and reconciler's settings "
    "with one another",
}


def is_package(folder: Path) -> bool:
    """A regular package, or a namespace package (a folder holding one, such as deploy/)."""
    return folder.is_dir() and (
        (folder / "__init__.py").exists() or any((child / "__init__.py").exists() for child in folder.iterdir())
    )


def names_in(package: Path) -> set[str]:
    """The module and subpackage names a test in the mirroring directory may be named after."""
    modules = {p.stem for p in package.glob("*.py") if not p.name.startswith("__")}
    return modules | {p.name for p in package.iterdir() if p.is_dir() and is_package(p)}


def named_after(test: str, names: set[str]) -> bool:
    return any(test == f"test_{name}" or test.startswith(f"test_{name}_") for name in names)


def misplaced(unit: Path, root: Path) -> list[str]:
    """Each nested test not in a mirrored package or not named after a module there, with why."""
    offenders = []
    for path in sorted(unit.rglob("test_*.py")):
        relative = path.relative_to(unit)
        if len(relative.parts) == 1 or relative.as_posix() in EXCEPTIONS:
            continue
        package = root.joinpath(*relative.parts[:-1])
        if not is_package(package):
            offenders.append(f"{relative}: {package.relative_to(root)}/ is not a package of the repository")
        elif not named_after(path.stem, names_in(package)):
            offenders.append(
                f"{relative}: named after no module of {package.relative_to(root)}/ "
                f"(test_<module>.py or test_<module>_<aspect>.py)"
            )
    return offenders


def test_every_nested_unit_test_mirrors_the_module_it_tests():
    offenders = misplaced(UNIT, ROOT)

    assert not offenders, "unit tests outside the mirror of the source tree:\n" + "\n".join(offenders)


def test_only_repository_wide_tests_live_at_the_top():
    top = {p.name for p in UNIT.glob("test_*.py")}

    assert top <= REPOSITORY_WIDE.keys(), (
        f"tests/unit/ top level holds {sorted(top - REPOSITORY_WIDE.keys())}: "
        "move each beside its module, or list it in REPOSITORY_WIDE with what it checks"
    )


def test_the_listed_exceptions_and_repository_wide_tests_exist():
    missing = [name for name in [*EXCEPTIONS, *REPOSITORY_WIDE] if not (UNIT / name).exists()]

    assert missing == []


def test_every_test_directory_is_a_package():
    folders = [p for p in UNIT.rglob("*") if p.is_dir() and p.name != "__pycache__"]

    assert [str(p.relative_to(UNIT)) for p in folders if not (p / "__init__.py").exists()] == []


def test_the_rule_names_a_test_in_the_wrong_place_or_with_the_wrong_name(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for name in ("pkg/__init__.py", "pkg/app.py", "pkg/sub/__init__.py"):
        (tmp_path / name).write_text("")
    unit = tmp_path / "tests" / "unit"
    for name in (
        "pkg/test_app.py",
        "pkg/test_app_retries.py",
        "pkg/test_sub.py",
        "pkg/test_apple.py",
        "nowhere/test_app.py",
        "test_top.py",
    ):
        (unit / name).parent.mkdir(parents=True, exist_ok=True)
        (unit / name).write_text("")

    assert misplaced(unit, tmp_path) == [
        "nowhere/test_app.py: nowhere/ is not a package of the repository",
        "pkg/test_apple.py: named after no module of pkg/ (test_<module>.py or test_<module>_<aspect>.py)",
    ]
