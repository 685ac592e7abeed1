"""JSON log lines: one object per record, correlation ids passed through, PHI-named fields redacted.

A record's ``extra`` fields (``log.info("pushed", extra={"event_id": ..., "notification_id": ...})``)
become top-level keys, so a log pipeline can join an event's lines across processes. Extras are
for ids and counts: a key that names clinical content (``_REDACTED``) is written as "[redacted]"
whatever its value, a guard against a careless ``extra={"title": event.title}``.

A stdlib ``logging.Formatter`` of 40 lines rather than python-json-logger: the format is small and
fixed, and the redaction needs to sit in the formatter anyway.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_REDACTED = frozenset({"patient_name", "patient", "title", "body", "payload", "value", "email", "phone"})


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: ts, level, logger, msg, the extras, then exc if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def extras(record: logging.LogRecord) -> dict[str, object]:
    """The ``extra`` fields of ``record``, with PHI-named keys redacted."""
    return {
        key: "[redacted]" if key in _REDACTED else value
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_")
    }
