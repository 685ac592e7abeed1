"""JSON log lines: one object per record, correlation ids passed through, PHI-named fields redacted."""

from __future__ import annotations

import io
import json
import logging
import sys
import uuid

from streams.app import configure_logging
from streams.logs import JsonFormatter


def log_line(level=logging.INFO, msg="pushed %d", args=(2,), extra=None, exc_info=None) -> dict:
    logger = logging.getLogger("herald.test.logs")
    record = logger.makeRecord(logger.name, level, __file__, 1, msg, args, exc_info, extra=extra)
    return json.loads(JsonFormatter().format(record))


def test_a_record_is_one_json_object_with_time_level_logger_and_message():
    line = log_line()
    assert line["level"] == "INFO" and line["logger"] == "herald.test.logs" and line["msg"] == "pushed 2"
    assert line["ts"].endswith("+00:00")


def test_extra_ids_become_top_level_keys_for_correlation():
    event_id, notification_id = uuid.uuid4(), uuid.uuid4()
    line = log_line(extra={"event_id": event_id, "notification_id": notification_id, "attempt": 3})
    assert (line["event_id"], line["notification_id"], line["attempt"]) == (str(event_id), str(notification_id), 3)


def test_fields_named_for_clinical_content_are_redacted_whatever_their_value():
    line = log_line(extra={"title": "Lab result for Jane Doe", "patient_name": "Jane Doe", "event_id": "e-1"})
    assert line["title"] == line["patient_name"] == "[redacted]" and "Jane" not in json.dumps(line)


def test_an_exception_is_kept_in_the_same_line():
    try:
        raise ValueError("boom")
    except ValueError:
        line = log_line(level=logging.ERROR, msg="failed", args=(), exc_info=sys.exc_info())
    assert "ValueError: boom" in line["exc"]


def test_configure_logging_writes_json_lines_to_stderr(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    monkeypatch.delenv("HERALD_LOG_FORMAT", raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging()
    try:
        logging.getLogger("herald.test").warning("batch failed", extra={"event_id": "e-7"})
    finally:
        root.handlers[:] = handlers  # give pytest's handlers back
        root.setLevel(level)
    assert json.loads(stream.getvalue().splitlines()[-1])["event_id"] == "e-7"
