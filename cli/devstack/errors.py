"""The one error of the local stack, and how it quotes the logs that explain it."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

LOG_TAIL_LINES = 20


class DevstackError(RuntimeError):
    """A part of the stack could not be brought up or down; the message says
    which, and usually carries the tail of the log that explains why."""


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Last lines of a log for error messages; empty if it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _error_lines(path: Path, scan: int = 300, keep: int = 5) -> list[str]:
    """Recent ERROR / 'Caused by' lines: a Java stack trace pushes the root
    cause out of the last 20 lines, so it is quoted separately."""
    recent = _tail(path, scan).splitlines()
    found = [line for line in recent if " ERROR " in line or " FATAL " in line or line.startswith("Caused by:")]
    return list(dict.fromkeys(found))[-keep:]  # drop repeats, keep order


def _failure(message: str, logs: Sequence[Path]) -> DevstackError:
    """Build an error naming each log and quoting its last lines (and, if
    they scrolled out of that tail, its recent error lines)."""
    parts = [message]
    for log in logs:
        tail = _tail(log)
        parts.append(f"--- last {LOG_TAIL_LINES} lines of {log} ---\n{tail or '(empty or missing)'}")
        errors = [line for line in _error_lines(log) if line not in tail]
        if errors:
            parts.append(f"--- recent errors in {log} ---\n" + "\n".join(errors))
    return DevstackError("\n".join(parts))
