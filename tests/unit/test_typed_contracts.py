"""The runtime's contracts are typed: ``Outcome[W]``, ``Sink[W]``, ``Processor[W]`` and the loop around
them pass mypy --strict, and a processor whose batches do not fit its sink is a type error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRICT = [
    "streams/records.py",
    "streams/checkpoint.py",
    "streams/runtime.py",
    "streams/client_errors.py",
    "processors/directory/app.py",
    "processors/persister/app.py",
    "processors/fanout/app.py",
    "processors/push/app.py",
]  # every processor whose handle returns an Outcome for a sink


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_runtime_and_its_contracts_pass_mypy_strict():
    result = mypy(*STRICT)

    assert result.returncode == 0, result.stdout


def test_a_sink_that_takes_another_batch_type_is_refused(tmp_path):
    wrong = tmp_path / "wrong_sink.py"
    wrong.write_text(
        "from processors.directory.app import DirectoryProcessor\n"
        "from streams.checkpoint import Sink\n"
        "from streams.records import Outcome\n"
        "from sinks.postgres.directory import DirectoryBatch\n"
        "class Rows:\n"
        "    def write(self, batch: list[int]) -> None: ...\n"
        "def pair(outcome: Outcome[DirectoryBatch], sink: Sink[DirectoryBatch]) -> None: ...\n"
        "pair(DirectoryProcessor().handle([]), Rows())\n"
    )

    result = mypy(str(wrong))

    assert result.returncode == 1 and 'incompatible type "Rows"' in result.stdout, result.stdout


WIRING = """\
from typing import Callable

from sqlalchemy import Engine

from processors.fanout.app import Fanout
from processors.persister.app import Persister, PersisterSink
from processors.push.app import PushSender
from sinks.postgres.notifications import NotificationSink
from sinks.postgres.push import PushSink
from streams.app import build_runtime
from streams.records import DeadLetter, Message, Record
from streams.settings import ProcessorSettings


def wire(settings: ProcessorSettings, engine: Engine, decode: Callable[[Message], Record | DeadLetter],
         persisted: PersisterSink, fanout: Fanout, sender: PushSender) -> None:
    build_runtime(settings, processor=Persister(), group="g", topics=[], dead_letters={}, decode=decode, sink=persisted)
    build_runtime(settings, processor=fanout, group="g", topics=[], dead_letters={}, decode=decode,
                  sink=NotificationSink(engine))
    build_runtime(settings, processor=sender, group="g", topics=[], dead_letters={}, decode=decode, sink=PushSink(engine))
    build_runtime(settings, processor=fanout, group="g", topics=[], dead_letters={}, decode=decode, sink=PushSink(engine))
"""


def test_build_runtime_takes_each_processor_with_its_own_sink_and_refuses_another(tmp_path):
    wiring = tmp_path / "wiring.py"
    wiring.write_text(WIRING)
    last_line = len(WIRING.splitlines())

    result = mypy(str(wiring))

    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and f"wiring.py:{last_line}:" in errors[0], result.stdout
