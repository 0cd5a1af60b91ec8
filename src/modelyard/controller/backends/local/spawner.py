"""The backend's side of the replica spawner (``modelyard.cli.spawner``): a warm process, started
once per backend, that forks replicas with the serving runtime and the common model libraries already
imported, so that a replica starts in a fraction of its cold start.

``SpawnerClient.spawn`` returns the new replica's pid, or None whenever the spawner cannot help (not
warm yet, gone, slow to answer): the backend then starts the replica with ``posix_spawn`` as before.
Replicas forked by the spawner are its children, not the server's: their exit codes come from the
spawner (``exit_code``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger("modelyard.controller")

ANSWER_S = 5.0  # for the spawner to answer a request before the backend spawns the replica itself


class SpawnerClient:
    def __init__(self, python: str, env: dict[str, str]) -> None:
        self.env = env
        ours, theirs = socket.socketpair()
        self._sock = ours
        argv = [python, "-m", "modelyard.cli.spawner", "--fd", "3"]
        try:
            self.pid: int | None = os.posix_spawn(
                python,
                argv,
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, theirs.fileno(), 3),
                ],
                setsid=True,
            )
        except OSError as exc:
            log.warning("cannot start the replica spawner (%s); replicas start without it", exc)
            self.pid = None
        finally:
            theirs.close()
        self._ready = threading.Event()
        self._gone = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._answers: dict[int, dict[str, object]] = {}
        self._exits: dict[int, int] = {}
        self._abandoned: set[int] = set()  # requests given up on: their replicas must not run
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="modelyard-spawner", daemon=True)
        if self.pid is None:
            self._gone.set()
        else:
            self._reader.start()

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._gone.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the spawner is ready, waiting up to ``timeout`` (less if it exits meanwhile)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not self._ready.is_set() and not self._gone.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        return self.ready

    def spawn(self, argv: list[str], log_path: Path) -> int | None:
        """Fork a replica running ``modelyard serve-model argv`` with its output in ``log_path``."""
        if not self.ready:
            return None
        request_id = next(self._ids)
        data = json.dumps({"id": request_id, "argv": argv, "log": str(log_path)}) + "\n"
        try:
            with self._lock:
                self._sock.sendall(data.encode())
        except OSError:
            return None
        deadline = time.monotonic() + ANSWER_S
        with self._changed:
            while request_id not in self._answers and not self._gone.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    # the backend starts the replica itself; a fork that comes later is killed
                    self._abandoned.add(request_id)
                    log.warning("the replica spawner did not answer within %g s", ANSWER_S)
                    return None
                self._changed.wait(left)
            answer = self._answers.pop(request_id, {})
        pid = answer.get("pid")
        if not isinstance(pid, int):
            log.warning("the replica spawner could not start a replica: %s", answer.get("error"))
            return None
        return pid

    def exit_code(self, pid: int, *, wait_s: float = 1.0) -> int | None:
        """The exit code of a replica the spawner forked (it reaps them), waiting a little for it."""
        deadline = time.monotonic() + wait_s
        with self._changed:
            while pid not in self._exits and not self._gone.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            return self._exits.pop(pid, None)

    def close(self) -> None:
        """Stop the spawner (the replicas it forked go on) and reap it."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        if self.pid is not None:
            deadline = time.monotonic() + 5.0
            while True:
                try:
                    done, _ = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(self.pid, 0)
                    break
                time.sleep(0.02)
        if self._reader.is_alive():
            self._reader.join(timeout=5)

    def _read(self) -> None:
        try:
            with self._sock.makefile("rb") as lines:
                for raw in lines:
                    message = json.loads(raw)
                    with self._changed:
                        if message.get("ready"):
                            self._ready.set()
                        elif "exit" in message:
                            self._exits[int(message["exit"])] = int(message["code"])
                            if len(self._exits) > 10_000:  # nobody asked for those: forget the oldest
                                self._exits.pop(next(iter(self._exits)))
                        elif "id" in message and message["id"] in self._abandoned:
                            self._abandoned.discard(message["id"])
                            _kill(message.get("pid"))
                        elif "id" in message:
                            self._answers[int(message["id"])] = message
                        self._changed.notify_all()
        except (OSError, ValueError) as exc:
            log.debug("the replica spawner's socket closed: %s", exc)
        finally:
            with self._changed:
                self._gone.set()
                self._changed.notify_all()
            if not self._ready.is_set():
                log.info("the replica spawner exited before it was ready; replicas start without it")


def _kill(pid: object) -> None:
    """Kill a replica that was forked after the backend gave up waiting for it (and its session)."""
    if isinstance(pid, int) and pid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
