"""Knowing at once that a replica's process ended, and why.

``ExitWatcher`` holds a pidfd (Linux 5.3+) for every watched process and calls its listener the moment
one becomes readable, that is, the process exited: the controller then reconciles at once instead of
at its next tick. Where pidfds are missing the watcher watches nothing, and the tick finds exits.

``describe`` turns an exit status into words; a SIGKILL that the backend did not send is checked
against the kernel's out-of-memory kill counters (``oom_kills``), so that a replica killed for
memory says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("modelyard.controller")

PROC = Path("/proc")
CGROUP = Path("/sys/fs/cgroup")


class ExitWatcher:
    def __init__(self, listener: Callable[[], None]) -> None:
        self._listener = listener
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._pending: list[int] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="modelyard-replica-exits", daemon=True)
        self._thread.start()

    def watch(self, pid: int) -> None:
        """Call the listener once ``pid`` exits (at once if it is gone already)."""
        if not hasattr(os, "pidfd_open"):
            return
        with self._lock:
            if self._closed:
                return
            self._pending.append(pid)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"w")

    def close(self) -> None:
        with self._lock:
            self._closed = True
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while True:
                for key, _ in self._selector.select():
                    if key.fd == self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            os.read(self._wake_r, 4096)
                        continue
                    self._selector.unregister(key.fd)
                    os.close(key.fd)
                    self._listener()
                with self._lock:
                    if self._closed:
                        return
                    pending, self._pending = self._pending, []
                for pid in pending:
                    self._add(pid)
        except Exception:
            log.exception("watching replica processes failed; exits are found by the controller's tick")
        finally:
            for key in list(self._selector.get_map().values()):
                with contextlib.suppress(OSError):
                    os.close(key.fd)
            self._selector.close()
            os.close(self._wake_w)

    def _add(self, pid: int) -> None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._listener()  # gone already
            return
        except OSError as exc:  # pidfds unsupported here (an old kernel, a sandbox)
            log.debug("cannot watch process %s (%s); the tick will notice its exit", pid, exc)
            return
        self._selector.register(fd, selectors.EVENT_READ)


def oom_counter(pid: int, *, proc: Path = PROC, cgroup_root: Path = CGROUP) -> Path | None:
    """The file that counts the kernel's out-of-memory kills for ``pid``: its memory cgroup's (cgroup
    v2 ``memory.events``, v1 ``memory.oom_control``), else the whole machine's (``/proc/vmstat``);
    None where none can be read. Found while ``pid`` runs; read with ``oom_kills`` when it starts and
    after it died: a rise means an out-of-memory kill happened meanwhile."""
    for path in [*_cgroup_counters(pid, proc, cgroup_root), proc / "vmstat"]:
        if oom_kills(path) is not None:
            return path
    return None


def oom_kills(path: Path | None) -> int | None:
    """The ``oom_kill`` count in ``path`` (None where it cannot be read)."""
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def _cgroup_counters(pid: int, proc: Path, cgroup_root: Path) -> list[Path]:
    try:
        lines = (proc / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2
            out.append(cgroup_root / relative / "memory.events")
        elif "memory" in controllers.split(","):
            out.append(cgroup_root / "memory" / relative / "memory.oom_control")
    return out


def describe(code: int | None, *, oom_before: int | None = None, oom_after: int | None = None) -> str:
    """An exit status in words: ``exited with code 3``, ``was killed by SIGSEGV``; a SIGKILL is put
    down to the out-of-memory killer when its counter rose meanwhile."""
    if code is None:
        return "exited (its exit code is unknown to this server: it did not start the process itself)"
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if -code != signal.SIGKILL:
        return f"was killed by {name}"
    if oom_before is not None and oom_after is not None and oom_after > oom_before:
        return (
            "was killed by the kernel's out-of-memory killer (SIGKILL): the machine ran out of memory "
            "for it; give it more memory or run fewer replicas"
        )
    return "was killed by SIGKILL from outside modelyard (kill -9, or the out-of-memory killer)"
