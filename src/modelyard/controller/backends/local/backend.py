"""The local backend: every replica is an OS process of ``modelyard serve-model`` on a loopback port.

Files, under ``<data_dir>/deployments/<deployment_id>/``: ``<replica>.log`` (the replica's stdout and
stderr, each line timestamped, with the backend's lifecycle lines among them) and ``<replica>.json``
(its state, ``state.py``), which lets a new server adopt replicas that outlived the old one.

A replica that exits is ``crashed`` and restarted: at once the first time (as Kubernetes does), then
with back-off (0.5 s doubling to 30 s) while it keeps exiting; one that exits before ever becoming
ready ``FAIL_AFTER`` times in a row is ``failed``, with the error line it printed (the model loader's
message) as its message, and is not restarted: its spec cannot be served. An exit is noticed the
moment it happens (``exits.ExitWatcher``), and the listener given to ``notify`` (the controller's
wake-up) is called.

A ready replica whose process runs but whose server no longer answers (a deadlock, a model stuck
holding the GIL, a stopped process) is found the way a Kubernetes liveness probe finds it: ``GET
/v2/health/live`` every ``Liveness.period_s``; after ``Liveness.failures`` probes in a row without a
200 within ``Liveness.timeout_s``, the process is killed and the replica restarts like a crashed one,
with the reason as its message. serve-model answers liveness on its event loop, which a busy model
holds for at most one inline predict (slower models run on threads), so a loaded replica still
answers.

What happens to a replica (started, ready, probe failed, killed, exited and why, restarted, draining)
is written into its log as ``<time> [modelyard controller] ...`` and to the server's log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
import httpx

from modelyard.controller.backends.base import LogLine, ReplicaSpec
from modelyard.controller.backends.local import exits, log_files, processes, state
from modelyard.controller.backends.local.spawner import SpawnerClient
from modelyard.controller.backends.local.state import ReplicaProc
from modelyard.domain.deployments import Replica, ReplicaState
from modelyard.domain.errors import NotFound
from modelyard.serving.output import stamp, unstamped

log = logging.getLogger("modelyard.controller")

FAIL_AFTER = 3  # exits before ready, in a row, that fail a replica
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
BACKOFF_RESET_S = 60.0  # a replica that served this long starts its back-off over
LOG_ROTATE_BYTES = 16 * 1024 * 1024
LOGS_KEPT = 32  # log files of replicas that are gone, per deployment
PROBE_TIMEOUT_S = 0.5
KILL_WAIT_S = 2.0  # for a killed process to be gone, before its exit is recorded
FOLLOW_POLL_S = 0.25
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


class LocalBackend:
    def __init__(
        self,
        root: Path,
        *,
        drain_seconds: float = 30.0,
        python: str = sys.executable,
        liveness: Liveness = Liveness(),
        clock: Callable[[], float] = time.monotonic,
        spawner: bool = True,
    ) -> None:
        self.root = root
        self.drain_seconds = drain_seconds
        self.python = python
        self.liveness = liveness
        self._now = clock  # for back-off, readiness and probe times
        self._procs: dict[tuple[int, str], ReplicaProc] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=PROBE_TIMEOUT_S)
        self._listeners: list[Callable[[], None]] = []
        self._exits: exits.ExitWatcher | None = None
        self._use_spawner = spawner
        self._spawner: SpawnerClient | None = None

    # ---- files -------------------------------------------------------------------------------
    def _dir(self, deployment_id: int) -> Path:
        return self.root / str(deployment_id)

    def _log_path(self, p: ReplicaProc) -> Path:
        return self._dir(p.deployment_id) / f"{p.name}.log"

    def _save(self, p: ReplicaProc) -> None:
        state.save(p, self._dir(p.deployment_id) / f"{p.name}.json")

    def _event(self, p: ReplicaProc, message: str, level: int = logging.INFO) -> None:
        """What happened to a replica: a line in its log (``modelyard logs`` shows it among the
        replica's own lines) and in the server's."""
        log.log(level, "replica %s: %s", p.label, message)
        with contextlib.suppress(OSError), self._log_path(p).open("a") as f:
            f.write(f"{stamp()} [modelyard controller] {message}\n")

    # ---- the Backend interface -------------------------------------------------------------------
    def notify(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)
        if self._exits is None:
            self._exits = exits.ExitWatcher(self._exited_somewhere)
            with self._lock:
                pids = [p.pid for p in self._procs.values() if p.pid is not None]
            for pid in pids:
                self._exits.watch(pid)

    def adopt(self) -> None:
        self._warm_spawner()
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
                p = state.load(path)
                if p is None:
                    continue
                with self._lock:
                    self._procs.setdefault(key, p)
                if p.state is ReplicaState.READY:  # serving: probe its liveness at once
                    p.ready_since, p.live_at = self._now(), self._now()
                if p.pid is not None:
                    p.oom_counter = exits.oom_counter(p.pid)
                    p.oom_kills = exits.oom_kills(p.oom_counter)
                    self._watch(p.pid)
                log.info("adopted replica %s (pid %s)", p.label, p.pid)

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
        p = ReplicaProc(spec.deployment_id, f"{spec.predictor}-{secrets.token_hex(3)}", spec)
        self._dir(spec.deployment_id).mkdir(parents=True, exist_ok=True)
        self._launch(p)
        with self._lock:
            self._procs[(spec.deployment_id, p.name)] = p
        self._prune_logs(spec.deployment_id)
        return p.view()

    def drain(self, deployment_id: int, replica: str, *, reason: str = "") -> None:
        p = self._get(deployment_id, replica)
        if p is None:
            return
        why = f" ({reason})" if reason else ""
        if p.pid is None or processes.poll(p.pid, p.ident) is not None:
            self._event(p, f"removed{why}")
            p.pid = None
            self._remove(p)
            return
        if p.drain_deadline is None:
            processes.send(p.pid, p.ident, signal.SIGTERM)
            p.drain_deadline = time.time() + self.drain_seconds + 5.0
            p.state, p.message = ReplicaState.DRAINING, ""
            self._save(p)
            self._event(
                p,
                f"draining{why}: sent SIGTERM; requests in flight have {self.drain_seconds:g} s to finish",
            )

    def restart_due(self, deployment_id: int, replica: str) -> bool:
        p = self._get(deployment_id, replica)
        return p is not None and p.state is ReplicaState.CRASHED and self._now() >= p.restart_at

    def restart(self, deployment_id: int, replica: str) -> None:
        p = self._get(deployment_id, replica)
        if p is None or p.state is not ReplicaState.CRASHED:
            return
        p.restarts += 1
        self._launch(p, why=p.message)

    def forget(self, deployment_id: int) -> None:
        with self._lock:
            for key in [k for k in self._procs if k[0] == deployment_id]:
                del self._procs[key]
        shutil.rmtree(self._dir(deployment_id), ignore_errors=True)

    def logs(
        self, deployment_id: int, *, replica: str | None = None, tail: int = 100, gone: bool = False
    ) -> list[LogLine]:
        return [
            LogLine(path.stem, line)
            for path in self._log_files(deployment_id, replica, gone=gone)
            for line in log_files.tail(path, tail)
        ]

    async def follow(
        self, deployment_id: int, *, replica: str | None = None, tail: int = 10, gone: bool = False
    ) -> AsyncIterator[LogLine]:
        files = await anyio.to_thread.run_sync(lambda: self._log_files(deployment_id, replica, gone=gone))
        offsets = {path: log_files.size(path) for path in files}
        for path, end in offsets.items():
            for line in log_files.tail(path, tail, end=end):
                yield LogLine(path.stem, line)
        directory = self._dir(deployment_id)
        while directory.is_dir():
            await anyio.sleep(FOLLOW_POLL_S)
            new = await anyio.to_thread.run_sync(self._read_new, deployment_id, replica, offsets, gone)
            for item in new:
                yield item

    def close(self, *, stop_replicas: bool) -> None:
        if stop_replicas:
            with self._lock:
                procs = list(self._procs.values())
            for p in procs:
                self.drain(p.deployment_id, p.name, reason="the server is stopping")
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
        if self._exits is not None:
            self._exits.close()
        if self._spawner is not None:
            self._spawner.close()
        self._http.close()

    # ---- internals ---------------------------------------------------------------------------------
    def _get(self, deployment_id: int, replica: str) -> ReplicaProc | None:
        with self._lock:
            return self._procs.get((deployment_id, replica))

    def _remove(self, p: ReplicaProc) -> None:
        with self._lock:
            self._procs.pop((p.deployment_id, p.name), None)
        (self._dir(p.deployment_id) / f"{p.name}.json").unlink(missing_ok=True)

    def _watch(self, pid: int) -> None:
        if self._exits is not None:
            self._exits.watch(pid)

    @property
    def spawner(self) -> SpawnerClient | None:
        """The replica spawner, once ``adopt`` started it (None with ``spawner=False``)."""
        return self._spawner

    def _warm_spawner(self) -> None:
        """Start the replica spawner (it warms up in the background; replicas start without it until
        it is ready)."""
        if self._use_spawner and self._spawner is None:
            self._spawner = SpawnerClient(self.python, {**_inherited_env(), "PYTHONUNBUFFERED": "1"})

    def _exited_somewhere(self) -> None:
        for listener in list(self._listeners):
            listener()

    def _argv(self, p: ReplicaProc) -> list[str]:
        s = p.spec
        argv = [self.python, "-m", "modelyard.cli.serve_model", "--model-uri", str(s.model_dir)]
        argv += ["--host", "127.0.0.1", "--port", str(p.port), "--model-name", s.deployment]
        argv += ["--drain-seconds", str(self.drain_seconds), "--replica", p.label, "--log-timestamps"]
        if s.model_version:
            argv += ["--model-version", s.model_version]
        if s.max_batch_size:
            argv += ["--max-batch-size", str(s.max_batch_size)]
            argv += ["--max-batch-wait-ms", str(s.max_batch_wait_ms)]
        return argv

    def _launch(self, p: ReplicaProc, why: str = "") -> None:
        log_path = self._log_path(p)
        if log_files.size(log_path) > LOG_ROTATE_BYTES:
            log_path.replace(log_path.with_suffix(".log.1"))
        p.port = processes.free_port()
        p.log_offset = log_files.size(log_path)
        argv = self._argv(p)
        pid = None
        if self._spawner is not None and not p.spec.env:  # a forked replica has the spawner's env
            pid = self._spawner.spawn(argv[3:], log_path)  # what follows `python -m module`
        p.forked = pid is not None
        if pid is None:
            env = {**_inherited_env(), **p.spec.env, "PYTHONUNBUFFERED": "1"}
            pid = processes.spawn(argv, env, log_path)
        p.pid = pid
        p.ident = processes.identity(p.pid)
        p.launched = self._now()
        p.state, p.message, p.ready_since = ReplicaState.STARTING, "", None
        p.started_at = int(time.time() * 1000)
        p.oom_counter = exits.oom_counter(p.pid)
        p.oom_kills = exits.oom_kills(p.oom_counter)
        self._save(p)
        self._watch(p.pid)
        where = f"pid {p.pid}, port {p.port}" + (", forked by the spawner" if p.forked else "")
        if p.restarts:
            self._event(p, f"restarted ({where}; restart {p.restarts}, after it {why})")
        else:
            self._event(p, f"started ({where}; model {p.spec.model_dir})")

    def _refresh(self, p: ReplicaProc) -> bool:
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
                    self._event(
                        p,
                        f"still running {self.drain_seconds + 5:g} s after SIGTERM; killed (SIGKILL)",
                        logging.WARNING,
                    )
                    processes.send(p.pid, p.ident, signal.SIGKILL)
                    p.drain_deadline = time.time() + 60.0  # say it once
                return True
            if p.state is ReplicaState.STARTING:
                if self._probe(p):
                    p.state, p.early_exits, p.ready_since = ReplicaState.READY, 0, self._now()
                    p.live_at, p.live_failures = p.ready_since + self.liveness.period_s, 0
                    after = f" {p.ready_since - p.launched:.2f} s after it started" if p.launched else ""
                    self._event(p, f"ready: answered its readiness probe{after}")
                    self._save(p)  # a server that adopts it later knows it served
                return True
            if p.state is not ReplicaState.READY or self._now() < p.live_at or not self._hung(p):
                return True
            ended = self._kill(p, p.pid)
            if ended is None:  # not gone yet: a later refresh records the exit
                return True
        code = ended.code
        if code is None and p.forked and self._spawner is not None and p.pid is not None:
            code = self._spawner.exit_code(p.pid)
        p.pid = None
        if p.drain_deadline is not None:
            self._event(p, "exited after draining" + (f" ({_code(code)})" if code else ""))
            self._remove(p)
            return False
        self._exited(p, code)
        return True

    def _exited(self, p: ReplicaProc, code: int | None) -> None:
        now = self._now()
        printed = [
            unstamped(line)
            for line in log_files.tail(self._log_path(p), 50, start=p.log_offset)
            if line.strip() and "[modelyard controller]" not in line
        ]
        printed = [line for line in printed if line.strip()]
        status = exits.describe(code, oom_before=p.oom_kills, oom_after=exits.oom_kills(p.oom_counter))
        if p.killed_for:
            status, p.killed_for, printed = p.killed_for, "", []
        if p.ready_since is None:
            p.early_exits += 1
        elif now - p.ready_since >= BACKOFF_RESET_S:
            p.crashes = 0
        p.crashes += 1
        error = _error_line(printed)
        if p.early_exits >= FAIL_AFTER:
            p.state = ReplicaState.FAILED
            p.message = f"{status} before it was ready, {p.early_exits} times in a row: {error}"
            self._event(p, f"failed, not restarting: {p.message}", logging.WARNING)
        else:
            p.state = ReplicaState.CRASHED
            # a signal's victim printed nothing about it: its last line would only mislead
            p.message = status + (f": {error}" if printed and (code is None or code > 0) else "")
            # the first exit restarts at once (a replica that served is wanted back now); exits in a row back off
            delay = 0.0 if p.crashes == 1 else min(BACKOFF_FIRST_S * 2 ** (p.crashes - 2), BACKOFF_MAX_S)
            p.restart_at = now + delay
            when = "now" if delay == 0 else f"in {delay:g} s ({p.crashes} exits in a row)"
            self._event(p, f"{p.message}; restarting {when}", logging.WARNING)
        p.ready_since = None
        self._save(p)

    def _probe(
        self, p: ReplicaProc, path: str = "/v2/health/ready", timeout: float = PROBE_TIMEOUT_S
    ) -> bool:
        try:
            return self._http.get(f"{p.url}{path}", timeout=timeout).status_code == 200
        except httpx.HTTPError:
            return False

    def _hung(self, p: ReplicaProc) -> bool:
        """Probe a ready replica's liveness; whether it has now failed too many probes in a row."""
        live = self._probe(p, "/v2/health/live", self.liveness.timeout_s)
        p.live_at = self._now() + self.liveness.period_s
        if live:
            p.live_failures = 0
            return False
        p.live_failures += 1
        self._event(
            p,
            f"liveness probe failed ({p.live_failures} of {self.liveness.failures}): GET /v2/health/live "
            f"got no answer within {self.liveness.timeout_s:g} s",
            logging.WARNING,
        )
        return p.live_failures >= self.liveness.failures

    def _kill(self, p: ReplicaProc, pid: int) -> processes.Exit | None:
        """Kill a hung replica's process ``pid``; how it ended, or None if it is not gone yet."""
        p.killed_for = f"stopped answering: {self.liveness.describe()}; it was killed"
        self._event(p, p.killed_for, logging.WARNING)
        processes.send(pid, p.ident, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_S
        while (ended := processes.poll(pid, p.ident)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return ended

    def _kept(self, deployment_id: int) -> set[str]:
        with self._lock:
            return {name for d, name in self._procs if d == deployment_id}

    def _log_files(self, deployment_id: int, replica: str | None, *, gone: bool = False) -> list[Path]:
        return log_files.replica_logs(self._dir(deployment_id), self._kept(deployment_id), replica, gone=gone)

    def _read_new(
        self, deployment_id: int, replica: str | None, offsets: dict[Path, int], gone: bool
    ) -> list[LogLine]:
        files: list[Path] = []
        if self._dir(deployment_id).is_dir():
            with contextlib.suppress(NotFound):  # a replica followed by name that is gone now
                files = self._log_files(deployment_id, replica, gone=gone)
        # a replica that went while being followed: its last lines (why it went) still come
        files += [path for path in offsets if path not in files]
        return [LogLine(path.stem, line) for path, line in log_files.read_new(files, offsets)]

    def _prune_logs(self, deployment_id: int) -> None:
        log_files.prune(self._dir(deployment_id), self._kept(deployment_id), keep=LOGS_KEPT)


def _error_line(printed: list[str]) -> str:
    """The one line that says why a replica exited: serve-model's ``error: ...`` line (its loader's
    message), else the last line of a traceback or whatever it printed last."""
    for line in reversed(printed):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return printed[-1].strip() if printed else "(it printed nothing)"


def _code(code: int | None) -> str:
    return exits.describe(code)


def _inherited_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_ENV)}
