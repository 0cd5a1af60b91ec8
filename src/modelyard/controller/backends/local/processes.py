"""OS processes for the local backend: spawn detached, tell whether a pid is still *our* process, stop.

Replicas are spawned with ``posix_spawn`` in a session of their own, so they outlive the server and a
later server can adopt them. We keep pids, never ``Popen`` objects: an adopted replica is not a child of
this process, and a ``Popen`` dropped while its child runs would warn and later reap it behind our back.
A pid can be reused after its process exits, so a replica is identified by its pid *and* the process's
start time (``/proc/<pid>/stat``); a pid whose start time differs is someone else's process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Exit:
    """A process that is gone; ``code`` is known only for our own children (None otherwise)."""

    code: int | None


def spawn(argv: list[str], env: dict[str, str], log_path: Path) -> int:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``; its pid."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(fd)


def identity(pid: int) -> str:
    """What tells this process apart from a later one with the same pid: its start time in clock
    ticks since boot; "" where /proc is missing (then the pid alone is trusted)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except FileNotFoundError:
        return "gone" if _PROC.is_dir() else ""
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: fields after the last ')' are fixed
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in {"Z", "X"}:  # exited, waiting for its parent to reap it
        return "gone"
    return fields[19]


def poll(pid: int, ident: str) -> Exit | None:
    """None while the process runs, else how it ended. Reaps it when it is our child."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: an adopted replica
        current = identity(pid)
        if current == "gone" or (ident and current and current != ident) or not exists(pid):
            return Exit(None)
        return None
    if done:
        return Exit(os.waitstatus_to_exitcode(status))
    return None


def exists(pid: int) -> bool:
    """Whether some process (ours or not) has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def send(pid: int, ident: str, sig: signal.Signals) -> None:
    """Signal the process (and its session, for any workers it forked) if it is still the one we
    started; a process that is gone is not an error."""
    if poll(pid, ident) is not None:
        return
    try:
        os.killpg(pid, sig)  # spawned with setsid: its pid is its process group's id
    except (ProcessLookupError, PermissionError):  # not (yet) leading a group of its own
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    # Not both: a replica that handled a SIGTERM quickly and restored the default handler on its way
    # out would be killed by the second one.


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the replica binds it a moment later; a lost race is a crash
    that the back-off restart absorbs, on another port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
