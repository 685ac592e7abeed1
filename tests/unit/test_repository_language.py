"""The repository speaks of the software only, never of how it was developed.

Every tracked text file is scanned for references to numbered or relative work periods, tracker issue
numbers, numbered style-rule references, review bookkeeping and paths outside the repository (the
examples below spell them in pieces, so that this file does not match its own pattern). A comment says why the code is as it is; measured figures
live in docs/benchmarks.md and docs/decisions/. "Session" in the database or Kafka sense is allowed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()

_ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth"
    "|[0-9]+(?:st|nd|rd|th)|this|earlier|previous|last|next|that"
)
FORBIDDEN = re.compile(
    rf"((?:{_ORDINALS}) sessions?(?:'s)?\b)"  # a numbered or relative work period
    r"|\bissue [0-9]+"  # a tracker's issue number
    r"|\bSTYLE [0-9]+"  # a numbered style rule
    r"|\.\./shared|\bshared/(?:notes|DESIGN)"  # a file outside the repository
    r"|review\s+mend",
    re.IGNORECASE,
)

# Sessions that are part of the software: a database (SQLAlchemy, Postgres) or a Kafka group member's.
ALLOWED = re.compile(
    r"session\.timeout\.ms|session_timeout\w*|HERALD_SESSION_TIMEOUT_MS"
    r"|(?:database|db|sqlalchemy|orm|postgres(?:ql)?|kafka|consumer|member|group|its|their|dead) sessions?\b",
    re.IGNORECASE,
)


# A design document that is not part of the repository, cited by section (case-sensitive).
OUTSIDE_DOCUMENT = re.compile(r"\bDESIGN\b")


def offences(text: str) -> list[str]:
    """Forbidden phrases in ``text`` once the database/Kafka senses of "session" are taken out."""
    found = [m.group(0) for m in FORBIDDEN.finditer(ALLOWED.sub(" ", text))]
    return found + [m.group(0) for m in OUTSIDE_DOCUMENT.finditer(text)]


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in names.decode().split("\0") if name and name != THIS_FILE]


def test_no_tracked_file_speaks_of_how_the_project_was_developed():
    found = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            continue  # deleted in the work tree, a submodule, or binary
        for number, line in enumerate(text.splitlines(), 1):
            for phrase in offences(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {phrase!r}")
    assert not found, "the repository must speak of the software only:\n" + "\n".join(found)


S = "session"  # the examples are put together here so that this file's own lines stay clean


@pytest.mark.parametrize(
    "line",
    [
        f"as the eighth {S} found",
        f"Earlier {S}s' figures",
        f"this {S}'s make bench",
        f"the 12th {S}",
        "Issue" + " 7: the benchmarks",
        "Pure (STY" + "LE 13)",
        "see .." + "/shared/DESIGN.md",
        "(see " + "shared/notes)",
        "Review" + " mend: tidy",
        "the catalogue (DES" + 'IGN "Event catalogue")',
    ],
)
def test_history_words_are_caught(line):
    assert offences(line)


@pytest.mark.parametrize(
    "line",
    [
        "session.timeout.ms is 45 s",
        "HERALD_SESSION_TIMEOUT_MS",
        "one database session per request",
        "until that member session expires",
        "a SQLAlchemy session",
        "the Kafka session of a dead member",
        "librdkafka#1700, an open issue",
        "the next batch",
        "one record per design decision",
    ],
)
def test_database_and_kafka_sessions_are_allowed(line):
    assert not offences(line)


# A path into the repository as docs, comments and docstrings name one (tests/unit/..., docs/decisions/...).
NAMED_PATH = re.compile(
    r"(?<![\w./-])((?:streams|processors|sinks|api|cli|deploy|tests|bench|docs|schemas)/"
    r"[\w/.-]+?\.(?:py|md|yml|yaml|avsc|json))"
)


def missing_paths(text: str, folder: Path) -> list[str]:
    """Paths ``text`` names that exist neither from the repository root nor from ``folder``."""
    return [
        m.group(1)
        for m in NAMED_PATH.finditer(text)
        if not (ROOT / m.group(1)).exists() and not (folder / m.group(1)).exists()
    ]


def test_every_repository_path_a_file_names_exists():
    """A module moved or renamed leaves no comment, doc or decision record pointing at its old place."""
    found = []
    for path in tracked_text_files():
        if path.suffix not in (".py", ".md", ".toml", ".yml", ".yaml") or "bench/results" in path.as_posix():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            continue
        found += [f"{path.relative_to(ROOT)}: {name}" for name in missing_paths(text, path.parent)]
    assert not found, "these files name paths that do not exist:\n" + "\n".join(found)


def test_a_path_that_does_not_exist_is_reported():
    assert missing_paths("see processors/fanout/rules_gone.py and streams/runtime.py", ROOT) == [
        "processors/fanout/rules_gone.py"
    ]
