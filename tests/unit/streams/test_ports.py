"""Who holds a port: a real listener in a child process is found by pid and named from its command line."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

from streams.health import EXIT_PORT_IN_USE, serve_process
from streams.ports import busy_ports, describe, in_use_message, port_free, port_owner

_LISTENER = textwrap.dedent("""
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 0))
    s.listen()
    print(s.getsockname()[1], flush=True)
    sys.stdin.read()  # holds the port until the test closes stdin
""")


@pytest.fixture
def listener():
    """A child process listening on a free port: (its Popen, the port)."""
    proc = subprocess.Popen([sys.executable, "-c", _LISTENER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    yield proc, port
    proc.stdin.close()
    proc.wait(10)


def test_given_a_port_held_by_a_child_process_then_the_message_names_its_pid(listener):
    proc, port = listener

    message = in_use_message(port, "HERALD_METRICS_PORT")

    assert port_owner(port).pid == proc.pid
    assert f"port {port} is in use by pid {proc.pid} (" in message
    assert f"`kill {proc.pid}`" in message and "HERALD_METRICS_PORT" in message
    assert not port_free(port) and busy_ports({port: "HERALD_METRICS_PORT"}) == [message]


def test_given_a_free_port_then_no_owner_and_no_message():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: free again once closed
    assert port_owner(port) is None and port_free(port) and busy_ports({port: "X", 0: "Y"}) == []


def test_given_a_herald_processor_command_line_then_it_is_named_by_its_role(tmp_path):
    pid_dir = tmp_path / "4242"
    pid_dir.mkdir()
    (pid_dir / "cmdline").write_bytes(b"/work/.venv/bin/python\0-m\0processors.push\0")
    (pid_dir / "stat").write_text("4242 (python) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0")
    (tmp_path / "uptime").write_text("1000.00 10.0\n")

    owner = describe(4242, proc=tmp_path)

    assert (owner.what, owner.orphan) == ("herald push-sender", True)
    assert "(herald push-sender, left running by an earlier run)" in in_use_message(9304, "HERALD_METRICS_PORT", owner)


def test_given_its_port_is_taken_then_serve_process_exits_naming_the_holder(listener, caplog):
    proc, port = listener

    with pytest.raises(SystemExit) as exited:
        serve_process("persister", None, default_port=port)

    assert exited.value.code == EXIT_PORT_IN_USE
    assert f"in use by pid {proc.pid}" in caplog.text
