"""A consumer the broker fences (another member joined with its ``group.instance.id``) stops its process
with ``EXIT_FATAL`` and one log line, on the real broker: librdkafka hands that error to the consumer's
poll as a generic ``_FATAL`` error, not flagged ``fatal()``, and logs it."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from cli.processes import wait_until
from streams.messages import DirectoryChange
from streams.runtime import EXIT_FATAL
from streams.topics import DIRECTORY
from tests.integration.helpers import lag, publish_directory, start

pytestmark = pytest.mark.integration


def test_given_a_second_member_with_the_same_instance_id_then_the_fenced_one_exits_fatal(pipeline, tmp_path):
    publish_directory(pipeline, [DirectoryChange("user", "o", "fenced-u1", datetime(2026, 1, 1, tzinfo=timezone.utc))])
    same = {"HERALD_INSTANCE_ID": "replica-0", "HERALD_LOG_FORMAT": "json"}
    (tmp_path / "first").mkdir()
    first = start(pipeline, "processors.directory", tmp_path / "first", **same)
    wait_until(lambda: lag(pipeline, "directory", DIRECTORY) == 0, 60, what="the first member to consume")

    (tmp_path / "second").mkdir()
    start(pipeline, "processors.directory", tmp_path / "second", **same)
    wait_until(lambda: first.poll() is not None, 60, what="the fenced member to exit")

    assert first.returncode == EXIT_FATAL
    lines = [
        json.loads(line)
        for line in (tmp_path / "first" / "processors.directory.log").read_text().splitlines()
        if line.startswith("{")
    ]
    critical = [line["msg"] for line in lines if line.get("level") == "CRITICAL"]
    assert len(critical) == 1, critical
    assert "Kafka consumer failed fatally" in critical[0] and "fenced" in critical[0]
    assert f"exit {EXIT_FATAL}" in critical[0]
    assert not any(line["msg"].startswith("consumer error") for line in lines)  # not taken for a passing one
