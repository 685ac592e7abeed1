"""Who holds a TCP port: the listening socket's inode from /proc/net/tcp{,6}, then the process whose
/proc/PID/fd links to it, described from its command line.

Why: a processor left running by a crashed demo keeps its metrics port, and the next start failed with
a bare "Address already in use" traceback in every log. Naming the pid and what it is turns that into
one line the operator can act on. Linux only (/proc); elsewhere the owner is simply unknown.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column
PROC = Path("/proc")


@dataclass(frozen=True)
class PortOwner:
    pid: int
    what: str  # "herald persister", or the command line shortened
    orphan: bool  # its parent is gone (re-parented to init): left behind by an earlier run
    age_s: float | None


def listening_inodes(port: int, proc: Path = PROC) -> set[int]:
    """Inodes of the sockets listening on ``port`` (any address, IPv4 or IPv6)."""
    inodes: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def socket_owner_pid(inodes: set[int], proc: Path = PROC) -> int | None:
    """The first process with an fd on one of ``inodes``; processes of other users are not readable."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name)
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None


def describe(pid: int, proc: Path = PROC) -> PortOwner:
    """``pid`` as a person would name it: Herald's processes by their role, anything else by its command."""
    try:
        argv = [a.decode(errors="replace") for a in (proc / str(pid) / "cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        argv = []
    return PortOwner(pid, _name(argv), _parent(pid, proc) == 1, _age(pid, proc))


def _name(argv: list[str]) -> str:
    if "-m" in argv[:-1]:
        module = argv[argv.index("-m") + 1]
        if module.startswith("processors."):
            role = module.split(".")[1]
            return "herald " + ("push-sender" if role == "push" else role.replace("_", "-"))
        if module in ("api", "api.__main__"):
            return "herald api"
        if module in ("cli.main", "cli"):
            return "herald " + " ".join(argv[argv.index("-m") + 2 :])[:60]
    names = [Path(a).name for a in argv[:2]]
    if "herald" in names:  # the console script, run directly or by its interpreter
        return "herald " + " ".join(argv[names.index("herald") + 1 :])[:60]
    return " ".join(" ".join(argv).split())[:80] or "a process whose command line is unreadable"


def _stat_fields(pid: int, proc: Path) -> list[str]:
    stat = (proc / str(pid) / "stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": comm may hold spaces


def _parent(pid: int, proc: Path) -> int | None:
    try:
        return int(_stat_fields(pid, proc)[1])
    except (OSError, ValueError, IndexError):
        return None


def _age(pid: int, proc: Path) -> float | None:
    try:
        started_ticks = int(_stat_fields(pid, proc)[19])
        uptime = float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(uptime - started_ticks / os.sysconf("SC_CLK_TCK"), 0.0)


def port_owner(port: int, proc: Path = PROC) -> PortOwner | None:
    """The process listening on ``port``, if this user can see it."""
    inodes = listening_inodes(port, proc)
    pid = socket_owner_pid(inodes, proc) if inodes else None
    return describe(pid, proc) if pid is not None else None


def in_use_message(port: int, setting: str, owner: PortOwner | None = None, *, look: bool = True) -> str:
    """The one line to print when ``port`` cannot be bound; ``setting`` names the variable that moves it."""
    owner = owner or (port_owner(port) if look else None)
    if owner is None:
        return (
            f"port {port} is in use by a process this user cannot see (another user's, or outside this "
            f"host's /proc); free it or set {setting}"
        )
    when = (
        "left running by an earlier run"
        if owner.orphan
        else (f"running for {_duration(owner.age_s)}" if owner.age_s is not None else "running")
    )
    return (
        f"port {port} is in use by pid {owner.pid} ({owner.what}, {when}); "
        f"stop it with `kill {owner.pid}` or set {setting}"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def port_free(port: int, host: str = "0.0.0.0") -> bool:
    """Whether a listener could bind ``port`` now (SO_REUSEADDR, as http.server and uvicorn bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def busy_ports(ports: dict[int, str]) -> list[str]:
    """One message per port of ``ports`` (port → the setting that moves it) that is taken; empty when all are free."""
    return [in_use_message(port, setting) for port, setting in sorted(ports.items()) if port and not port_free(port)]
