"""The local backend: every replica is an OS process of ``modelyard serve-model`` on a loopback port.

Files, under ``<data_dir>/deployments/<deployment_id>/``: ``<replica>.log`` (the replica's stdout and
stderr) and ``<replica>.json`` (its spec, pid, process start time, port, restart count, and whether it
failed or is draining). The state files are what lets a new server adopt replicas that outlived the
old one; the start time in them keeps a reused pid from being adopted.

A replica that exits is ``crashed`` and restarted with back-off (0.5 s doubling to 30 s); one that
exits before ever becoming ready ``FAIL_AFTER`` times in a row is ``failed``, with the last lines it
printed (the model loader's error) as its message, and is not restarted: its spec cannot be served.

A ready replica whose process runs but whose server no longer answers (a deadlock, a model stuck
holding the GIL, a stopped process) is found the way a Kubernetes liveness probe finds it: ``GET
/v2/health/live`` every ``Liveness.period_s``; after ``Liveness.failures`` probes in a row without a
200 within ``Liveness.timeout_s``, the process is killed and the replica restarts like a crashed one,
with the reason as its message. serve-model answers liveness on its event loop, which a busy model
holds for at most one inline predict (slower models run on threads), so a loaded replica still
answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from modelyard.controller.backends.base import LogLine, ReplicaSpec
from modelyard.controller.backends.local import log_files, processes
from modelyard.domain.deployments import Replica, ReplicaState
from modelyard.domain.errors import NotFound

log = logging.getLogger("modelyard.controller")

FAIL_AFTER = 3  # exits before ready, in a row, that fail a replica
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
BACKOFF_RESET_S = 60.0  # a replica that served this long starts its back-off over
ERROR_LINES = 5
LOG_ROTATE_BYTES = 16 * 1024 * 1024
LOGS_KEPT = 32  # log files of replicas that are gone, per deployment
PROBE_TIMEOUT_S = 0.5
KILL_WAIT_S = 2.0  # for a killed process to be gone, before its exit is recorded
FOLLOW_POLL_S = 0.25
_REPLICA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# A replica runs user code with its model files already local: the server's own credentials are not
# its business (a user's variables reach it through the predictor's ``env``).
_PRIVATE_ENV = ("MODELYARD_", "MLFLOW_TRACKING_", "AWS_")


@dataclass(frozen=True, slots=True)
class Liveness:
    """The liveness probe of ready replicas (Kubernetes' defaults are 10 s, 1 s and 3)."""

    period_s: float = 10.0
    timeout_s: float = 2.0
    failures: int = 3

    def describe(self) -> str:
        return (
            f"{self.failures} liveness probes in a row (GET /v2/health/live every {self.period_s:g} s) "
            f"got no answer within {self.timeout_s:g} s"
        )


@dataclass
class _Proc:
    """What the backend knows about one replica (the in-memory side of its state file)."""

    deployment_id: int
    name: str
    spec: ReplicaSpec
    pid: int | None = None  # None: no process runs
    ident: str = ""
    port: int = 0
    state: ReplicaState = ReplicaState.STARTING
    message: str = ""
    restarts: int = 0
    started_at: int = 0  # ms since the epoch
    log_offset: int = 0  # where this run's output starts in the log
    early_exits: int = 0  # exits before ready, in a row
    crashes: int = 0  # exits in a row, for the back-off
    ready_since: float | None = None  # monotonic
    restart_at: float = 0.0  # monotonic
    live_at: float = 0.0  # monotonic: when the next liveness probe is due
    live_failures: int = 0  # liveness probes in a row without an answer
    killed_for: str = ""  # why the backend killed the process (the exit's message)
    drain_deadline: float | None = None  # wall clock, so that it survives a restart

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else ""

    def view(self) -> Replica:
        return Replica(
            name=self.name,
            predictor=self.spec.predictor,
            template=self.spec.template,
            state=self.state,
            url=self.url if self.pid is not None else "",
            pid=self.pid,
            restarts=self.restarts,
            started_at=self.started_at,
            message=self.message,
        )


class LocalBackend:
    def __init__(
        self,
        root: Path,
        *,
        drain_seconds: float = 30.0,
        python: str = sys.executable,
        liveness: Liveness = Liveness(),
    ) -> None:
        self.root = root
        self.drain_seconds = drain_seconds
        self.python = python
        self.liveness = liveness
        self._procs: dict[tuple[int, str], _Proc] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=PROBE_TIMEOUT_S)

    # ---- files -------------------------------------------------------------------------------
    def _dir(self, deployment_id: int) -> Path:
        return self.root / str(deployment_id)

    def _save(self, p: _Proc) -> None:
        data = {
            "spec": p.spec.to_json(),
            "pid": p.pid,
            "ident": p.ident,
            "port": p.port,
            "restarts": p.restarts,
            "started_at": p.started_at,
            "log_offset": p.log_offset,
            "early_exits": p.early_exits,
            "failed": p.message if p.state is ReplicaState.FAILED else None,
            "drain_deadline": p.drain_deadline,
        }
        path = self._dir(p.deployment_id) / f"{p.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)

    def _load(self, path: Path) -> _Proc | None:
        try:
            data = json.loads(path.read_text())
            p = _Proc(
                deployment_id=int(path.parent.name),
                name=path.stem,
                spec=ReplicaSpec.from_json(data["spec"]),
                pid=data["pid"],
                ident=data["ident"],
                port=data["port"],
                restarts=data["restarts"],
                started_at=data["started_at"],
                log_offset=data["log_offset"],
                early_exits=data["early_exits"],
                drain_deadline=data["drain_deadline"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable replica state %s: %s", path, exc)
            return None
        if data["failed"] is not None:
            p.pid, p.state, p.message = None, ReplicaState.FAILED, data["failed"]
        elif p.pid is not None and processes.poll(p.pid, p.ident) is None:
            p.state = ReplicaState.DRAINING if p.drain_deadline is not None else ReplicaState.STARTING
        else:  # it exited while no controller watched: restart it now (or drop it if it was draining)
            p.pid, p.state, p.message = None, ReplicaState.CRASHED, "exited while the controller was down"
        return p

    # ---- the Backend interface -------------------------------------------------------------------
    def adopt(self) -> None:
        if not self.root.is_dir():
            return
        for directory in self.root.iterdir():
            if not directory.name.isdigit():
                continue
            for path in sorted(directory.glob("*.json")):
                key = (int(directory.name), path.stem)
                with self._lock:
                    if key in self._procs:
                        continue
                p = self._load(path)
                if p is None:
                    continue
                with self._lock:
                    self._procs.setdefault(key, p)
                log.info("adopted replica %s of deployment %s (pid %s)", p.name, key[0], p.pid)

    def deployment_ids(self) -> set[int]:
        with self._lock:
            return {d for d, _ in self._procs}

    def replicas(self, deployment_id: int) -> list[Replica]:
        with self._lock:
            procs = [p for (d, _), p in self._procs.items() if d == deployment_id]
        out = []
        for p in sorted(procs, key=lambda p: (p.started_at, p.name)):
            if self._refresh(p):
                out.append(p.view())
        return out

    def model_dirs(self) -> set[Path]:
        with self._lock:
            return {p.spec.model_dir for p in self._procs.values()}

    def start(self, spec: ReplicaSpec) -> Replica:
        p = _Proc(spec.deployment_id, f"{spec.predictor}-{secrets.token_hex(3)}", spec)
        self._dir(spec.deployment_id).mkdir(parents=True, exist_ok=True)
        self._launch(p)
        with self._lock:
            self._procs[(spec.deployment_id, p.name)] = p
        self._prune_logs(spec.deployment_id)
        return p.view()

    def drain(self, deployment_id: int, replica: str) -> None:
        p = self._get(deployment_id, replica)
        if p is None:
            return
        if p.pid is None or processes.poll(p.pid, p.ident) is not None:
            p.pid = None
            self._remove(p)
            return
        if p.drain_deadline is None:
            processes.send(p.pid, p.ident, signal.SIGTERM)
            p.drain_deadline = time.time() + self.drain_seconds + 5.0
            p.state, p.message = ReplicaState.DRAINING, ""
            self._save(p)

    def restart_due(self, deployment_id: int, replica: str) -> bool:
        p = self._get(deployment_id, replica)
        return p is not None and p.state is ReplicaState.CRASHED and time.monotonic() >= p.restart_at

    def restart(self, deployment_id: int, replica: str) -> None:
        p = self._get(deployment_id, replica)
        if p is None or p.state is not ReplicaState.CRASHED:
            return
        p.restarts += 1
        self._launch(p)

    def forget(self, deployment_id: int) -> None:
        with self._lock:
            for key in [k for k in self._procs if k[0] == deployment_id]:
                del self._procs[key]
        shutil.rmtree(self._dir(deployment_id), ignore_errors=True)

    def logs(self, deployment_id: int, *, replica: str | None = None, tail: int = 100) -> list[LogLine]:
        return [
            LogLine(path.stem, line)
            for path in self._log_files(deployment_id, replica)
            for line in log_files.tail(path, tail)
        ]

    async def follow(
        self, deployment_id: int, *, replica: str | None = None, tail: int = 10
    ) -> AsyncIterator[LogLine]:
        files = await anyio.to_thread.run_sync(lambda: self._log_files(deployment_id, replica))
        offsets = {path: log_files.size(path) for path in files}
        for path, end in offsets.items():
            for line in log_files.tail(path, tail, end=end):
                yield LogLine(path.stem, line)
        directory = self._dir(deployment_id)
        while directory.is_dir():
            await anyio.sleep(FOLLOW_POLL_S)
            new = await anyio.to_thread.run_sync(self._read_new, deployment_id, replica, offsets)
            for item in new:
                yield item

    def close(self, *, stop_replicas: bool) -> None:
        if stop_replicas:
            with self._lock:
                procs = list(self._procs.values())
            for p in procs:
                self.drain(p.deployment_id, p.name)
            deadline = time.monotonic() + self.drain_seconds + 5.0
            pending = [p for p in procs if p.pid is not None]
            while pending and time.monotonic() < deadline:
                time.sleep(0.05)
                pending = [p for p in pending if self._refresh(p) and p.pid is not None]
            for p in procs:
                if p.pid is not None:
                    processes.send(p.pid, p.ident, signal.SIGKILL)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(p.pid, 0)
                    self._remove(p)
        self._http.close()

    # ---- internals ---------------------------------------------------------------------------------
    def _get(self, deployment_id: int, replica: str) -> _Proc | None:
        with self._lock:
            return self._procs.get((deployment_id, replica))

    def _remove(self, p: _Proc) -> None:
        with self._lock:
            self._procs.pop((p.deployment_id, p.name), None)
        (self._dir(p.deployment_id) / f"{p.name}.json").unlink(missing_ok=True)

    def _argv(self, p: _Proc) -> list[str]:
        s = p.spec
        argv = [self.python, "-m", "modelyard.cli.serve_model", "--model-uri", str(s.model_dir)]
        argv += ["--host", "127.0.0.1", "--port", str(p.port), "--model-name", s.deployment]
        argv += ["--drain-seconds", str(self.drain_seconds)]
        if s.model_version:
            argv += ["--model-version", s.model_version]
        if s.max_batch_size:
            argv += ["--max-batch-size", str(s.max_batch_size)]
            argv += ["--max-batch-wait-ms", str(s.max_batch_wait_ms)]
        return argv

    def _launch(self, p: _Proc) -> None:
        log_path = self._dir(p.deployment_id) / f"{p.name}.log"
        if log_files.size(log_path) > LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_suffix(".log.1"))
        p.port = processes.free_port()
        p.log_offset = log_files.size(log_path)
        env = {**_inherited_env(), **p.spec.env, "PYTHONUNBUFFERED": "1"}
        p.pid = processes.spawn(self._argv(p), env, log_path)
        p.ident = processes.identity(p.pid)
        p.state, p.message, p.ready_since = ReplicaState.STARTING, "", None
        p.started_at = int(time.time() * 1000)
        self._save(p)

    def _refresh(self, p: _Proc) -> bool:
        """Bring ``p``'s state up to date with its process; False once it is gone for good."""
        if p.pid is None:
            if p.drain_deadline is not None:
                self._remove(p)
                return False
            return True
        ended = processes.poll(p.pid, p.ident)
        if ended is None:
            if p.drain_deadline is not None:
                p.state = ReplicaState.DRAINING
                if time.time() > p.drain_deadline:
                    processes.send(p.pid, p.ident, signal.SIGKILL)
                return True
            if p.state is ReplicaState.STARTING:
                if self._probe(p):
                    p.state, p.early_exits, p.ready_since = ReplicaState.READY, 0, time.monotonic()
                    p.live_at, p.live_failures = p.ready_since + self.liveness.period_s, 0
                return True
            if p.state is not ReplicaState.READY or time.monotonic() < p.live_at or not self._hung(p):
                return True
            ended = self._kill(p, p.pid)
            if ended is None:  # not gone yet: a later refresh records the exit
                return True
        p.pid = None
        if p.drain_deadline is not None:
            self._remove(p)
            return False
        self._exited(p, ended.code)
        return True

    def _exited(self, p: _Proc, code: int | None) -> None:
        now = time.monotonic()
        lines = [
            line
            for line in log_files.tail(self._dir(p.deployment_id) / f"{p.name}.log", 50, start=p.log_offset)
            if line.strip()
        ]
        status = "was killed" if code is not None and code < 0 else f"exited with code {code}"
        if code is None:
            status = "exited"
        if p.killed_for:
            status, p.killed_for, lines = p.killed_for, "", []
        if p.ready_since is None:
            p.early_exits += 1
        elif now - p.ready_since >= BACKOFF_RESET_S:
            p.crashes = 0
        p.crashes += 1
        if p.early_exits >= FAIL_AFTER:
            p.state = ReplicaState.FAILED
            detail = "\n".join(lines[-ERROR_LINES:]) or "(it printed nothing)"
            p.message = f"{status} before it was ready, {p.early_exits} times in a row; it printed:\n{detail}"
            log.warning("replica %s of deployment %s failed: %s", p.name, p.deployment_id, p.message)
        else:
            p.state = ReplicaState.CRASHED
            p.message = f"{status}" + (f": {lines[-1]}" if lines else "")
            p.restart_at = now + min(BACKOFF_FIRST_S * 2 ** (p.crashes - 1), BACKOFF_MAX_S)
        p.ready_since = None
        self._save(p)

    def _probe(self, p: _Proc, path: str = "/v2/health/ready", timeout: float = PROBE_TIMEOUT_S) -> bool:
        try:
            return self._http.get(f"{p.url}{path}", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def _hung(self, p: _Proc) -> bool:
        """Probe a ready replica's liveness; whether it has now failed too many probes in a row."""
        live = self._probe(p, "/v2/health/live", self.liveness.timeout_s)
        p.live_at = time.monotonic() + self.liveness.period_s
        if live:
            p.live_failures = 0
            return False
        p.live_failures += 1
        log.warning(
            "replica %s of deployment %s did not answer its liveness probe (%d of %d)",
            p.name,
            p.deployment_id,
            p.live_failures,
            self.liveness.failures,
        )
        return p.live_failures >= self.liveness.failures

    def _kill(self, p: _Proc, pid: int) -> processes.Exit | None:
        """Kill a hung replica's process ``pid``; how it ended, or None if it is not gone yet."""
        p.killed_for = f"stopped answering: {self.liveness.describe()}; it was killed"
        log.warning("replica %s of deployment %s %s", p.name, p.deployment_id, p.killed_for)
        processes.send(pid, p.ident, signal.SIGKILL)
        log_path = self._dir(p.deployment_id) / f"{p.name}.log"
        with contextlib.suppress(OSError), log_path.open("a") as f:  # `modelyard logs` shows why
            f.write(f"[modelyard controller] {p.killed_for}\n")
        deadline = time.monotonic() + KILL_WAIT_S
        while (ended := processes.poll(pid, p.ident)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return ended

    def _log_files(self, deployment_id: int, replica: str | None) -> list[Path]:
        directory = self._dir(deployment_id)
        if replica is not None:
            path = directory / f"{replica}.log"
            if not _REPLICA_NAME.match(replica) or not path.is_file():
                known = sorted(p.stem for p in directory.glob("*.log"))
                raise NotFound(
                    f"replica: no replica named {replica!r} has logs; replicas with logs: {known}."
                )
            return [path]
        return sorted(directory.glob("*.log"), key=_mtime)

    def _read_new(self, deployment_id: int, replica: str | None, offsets: dict[Path, int]) -> list[LogLine]:
        out: list[LogLine] = []
        files = self._log_files(deployment_id, replica) if self._dir(deployment_id).is_dir() else []
        for path in files:
            lines, offsets[path] = log_files.read_from(path, offsets.get(path, 0))
            out.extend(LogLine(path.stem, line) for line in lines)
        return out

    def _prune_logs(self, deployment_id: int) -> None:
        """Keep the logs of the latest ``LOGS_KEPT`` replicas that are gone (and of all running ones)."""
        with self._lock:
            running = {name for d, name in self._procs if d == deployment_id}
        gone = [p for p in self._log_files(deployment_id, None) if p.stem not in running]
        for path in gone[: max(0, len(gone) - LOGS_KEPT)]:
            path.unlink(missing_ok=True)
            path.with_suffix(".log.1").unlink(missing_ok=True)


def _inherited_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV)}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
