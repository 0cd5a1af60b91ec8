"""``modelyard server``'s side of the gateway process: adopt the one that runs, start one, replace one
that runs other code or settings, start it again if it dies, and on exit stop it or leave it.

The gateway is spawned the way the local backend spawns replicas (``processes.spawn``: its own
session, output appended to ``gateway.log``) and identified the same way (pid and process start
time, in the ``state.json`` it writes once it serves), so a server that was killed leaves it serving
and the next server adopts it. A server that finds a gateway with another fingerprint starts a new
one, which takes the listening socket over from the old (``process.py``); the old one drains and
exits by itself.

``ServerLock`` keeps two servers off one port's files; ``stop_strays`` stops the gateways of other
ports of this data dir that no server owns any more (a server restarted on another ``--port``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from modelyard.api.gateway.process import BACKLOG, DRAIN_S
from modelyard.api.gateway.relay import ApiAddress
from modelyard.api.gateway.runfiles import RunFiles, fingerprint, read_json
from modelyard.controller.backends.local import processes
from modelyard.settings import Settings

log = logging.getLogger("modelyard.gateway")

START_TIMEOUT_S = 30.0
WATCH_S = 0.5
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
LOG_ROTATE_BYTES = 16 * 1024 * 1024


class GatewayError(Exception):
    """The gateway could not be started, or the port's files belong to another server."""


class ServerLock:
    """An exclusive flock on ``server.lock``: one server per port and data dir. The kernel drops it
    when the server dies, however it dies."""

    def __init__(self, files: RunFiles) -> None:
        self.files = files
        self._fd: int | None = None

    def acquire(self) -> None:
        self.files.make()
        fd = os.open(self.files.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise GatewayError(
                f"Another modelyard server (pid {holder}) uses port {self.files.root.name} with this data "
                f"dir ({self.files.root.parent.parent}); stop it first, or use another --port or --data-dir."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def running_gateway(files: RunFiles) -> dict[str, Any] | None:
    """The state of the gateway of these files if its process still runs."""
    state = read_json(files.state)
    if state is None or not isinstance(state.get("pid"), int):
        return None
    if processes.poll(state["pid"], str(state.get("ident", ""))) is not None:
        return None
    return state


def stop_gateway(state: dict[str, Any], *, wait_s: float = 0.0) -> bool:
    """SIGTERM a gateway (it drains and exits); with ``wait_s``, wait that long for it to be gone."""
    pid, ident = int(state["pid"]), str(state.get("ident", ""))
    processes.send(pid, ident, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while processes.poll(pid, ident) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_strays(settings: Settings) -> list[tuple[str, int]]:
    """Stop the gateways of this data dir's other ports whose server is gone; (port, pid) of each."""
    root = settings.data_dir / "gateway"
    stopped: list[tuple[str, int]] = []
    if not root.is_dir():
        return stopped
    for directory in sorted(root.iterdir()):
        if directory.name == str(settings.port) or not directory.is_dir():
            continue
        files = RunFiles(directory)
        lock = ServerLock(files)
        try:
            lock.acquire()
        except (GatewayError, OSError):
            continue  # a server runs on that port: its gateway is its business
        try:
            state = running_gateway(files)
            if state is not None:
                stop_gateway(state)
                stopped.append((directory.name, int(state["pid"])))
        finally:
            lock.release()
    return stopped


class Supervisor:
    def __init__(self, settings: Settings, files: RunFiles, *, python: str = sys.executable) -> None:
        self.settings = settings
        self.files = files
        self.python = python
        self.fingerprint = fingerprint(settings)
        self.pid: int | None = None
        self.ident = ""
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- start ----------------------------------------------------------------------------------------
    def ensure(self) -> str:
        """Make a gateway of this server's fingerprint serve: ``adopted`` (it ran already),
        ``started`` or ``replaced`` (one with another fingerprint ran: it hands over and exits)."""
        state = running_gateway(self.files)
        if state is not None and state.get("fingerprint") == self.fingerprint:
            self.pid, self.ident = int(state["pid"]), str(state.get("ident", ""))
            return "adopted"
        self._start()
        return "replaced" if state is not None else "started"

    def _start(self) -> None:
        self.files.make()
        log_path = self.files.log
        if log_path.exists() and log_path.stat().st_size > LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_suffix(".log.1"))
        offset = log_path.stat().st_size if log_path.exists() else 0
        argv = [self.python, "-m", "modelyard.api.gateway.process"]
        argv += ["--data-dir", str(self.settings.data_dir), "--port", str(self.settings.port)]
        argv += ["--fingerprint", self.fingerprint]
        env = {**os.environ, **_settings_env(self.settings), "PYTHONUNBUFFERED": "1"}
        pid = processes.spawn(argv, env, log_path)
        ident = processes.identity(pid)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            state = read_json(self.files.state)
            if state is not None and state.get("pid") == pid:
                self.pid, self.ident = pid, ident
                return
            if processes.poll(pid, ident) is not None:
                raise GatewayError(f"The gateway did not start:\n{_tail(log_path, offset)}")
            if time.monotonic() > deadline:
                processes.send(pid, ident, signal.SIGKILL)
                raise GatewayError(
                    f"The gateway did not start within {START_TIMEOUT_S:g} s:\n{_tail(log_path, offset)}"
                )
            time.sleep(0.02)

    # -- while the server runs -----------------------------------------------------------------------
    def watch(self) -> None:
        """Start the gateway again whenever it dies (with back-off), until ``stop`` or ``detach``."""
        self._thread = threading.Thread(target=self._watch, name="modelyard-gateway-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.wait(WATCH_S):
            if self.pid is None or processes.poll(self.pid, self.ident) is None:
                continue
            log.warning("the gateway (pid %s) exited; starting it again (%s)", self.pid, self.files.log)
            self.pid = None
            delay = min(BACKOFF_FIRST_S * 2**failures, BACKOFF_MAX_S)
            if self._stopping.wait(delay if failures else 0.0):
                return
            try:
                self._start()
                failures = 0
            except (GatewayError, OSError) as exc:
                failures += 1
                log.error("%s", exc)

    # -- exit -----------------------------------------------------------------------------------------
    def detach(self) -> None:
        """Stop watching; the gateway keeps serving for the next server."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def kill(self) -> None:
        self.detach()
        if self.pid is not None:
            processes.send(self.pid, self.ident, signal.SIGKILL)
            self.files.state.unlink(missing_ok=True)

    def stop(self) -> bool:
        """Stop watching and stop the gateway: it finishes the requests in flight (up to its drain
        time), then it is killed. Whether it stopped by itself."""
        self.detach()
        if self.pid is None:
            return True
        done = stop_gateway({"pid": self.pid, "ident": self.ident}, wait_s=DRAIN_S + 5.0)
        if not done:
            processes.send(self.pid, self.ident, signal.SIGKILL)
        self.files.state.unlink(missing_ok=True)
        return done


def bind_api(files: RunFiles) -> tuple[socket.socket, ApiAddress]:
    """The API's private listening socket: ``api.sock`` in the port's directory (owner-only, so only
    this user's processes reach it), or a loopback port where that path is too long for a socket."""
    files.make()
    me, ident = os.getpid(), processes.identity(os.getpid())
    if files.unix_socket_fits():
        path = files.api_socket
        path.unlink(missing_ok=True)  # left by a server that was killed: this port's lock is ours
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(BACKLOG)
        return sock, ApiAddress("unix", str(path), me, ident)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(BACKLOG)
    return sock, ApiAddress("tcp", f"127.0.0.1:{sock.getsockname()[1]}", me, ident)


def _settings_env(settings: Settings) -> dict[str, str]:
    return {
        f"MODELYARD_{name.upper()}": str(value)
        for name, value in settings.model_dump(mode="json").items()
        if value is not None
    }


def _tail(path: Path, offset: int, lines: int = 15) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"
