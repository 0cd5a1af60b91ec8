"""What the local backend knows about one replica (``ReplicaProc``), and its state file.

``<data_dir>/deployments/<deployment_id>/<replica>.json`` holds the replica's spec, pid, process start
time, port, restart count, and whether it failed or is draining: what lets a new server adopt
replicas that outlived the old one (the start time keeps a reused pid from being adopted).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from modelyard.controller.backends.base import ReplicaSpec
from modelyard.controller.backends.local import processes
from modelyard.domain.deployments import Replica, ReplicaState

log = logging.getLogger("modelyard.controller")


@dataclass
class ReplicaProc:
    """One replica: the in-memory side of its state file."""

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
    launched: float = 0.0  # monotonic: when this run's process was started
    ready_since: float | None = None  # monotonic
    restart_at: float = 0.0  # monotonic
    live_at: float = 0.0  # monotonic: when the next liveness probe is due
    live_failures: int = 0  # liveness probes in a row without an answer
    killed_for: str = ""  # why the backend killed the process (the exit's message)
    drain_deadline: float | None = None  # wall clock, so that it survives a restart
    oom_counter: Path | None = None  # the file counting out-of-memory kills where it runs
    oom_kills: int | None = None  # that count when it started
    forked: bool = False  # forked by the spawner (its exit code comes from there), not by posix_spawn

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else ""

    @property
    def label(self) -> str:
        """``deployment/replica``: how people and ``ps`` know it."""
        return f"{self.spec.deployment}/{self.name}"

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


def save(p: ReplicaProc, path: Path) -> None:
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
        "ready": p.state is ReplicaState.READY,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def load(path: Path) -> ReplicaProc | None:
    """The replica a state file describes, with its state as found now (None if unreadable)."""
    try:
        data = json.loads(path.read_text())
        p = ReplicaProc(
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
        # A replica that was serving is adopted serving: its endpoint stays in the route while a new
        # server starts (a readiness probe that times out under load would take it out for nothing);
        # the liveness probe, due at once for an adopted replica, finds one that stopped answering.
        if p.drain_deadline is not None:
            p.state = ReplicaState.DRAINING
        else:
            p.state = ReplicaState.READY if data.get("ready") else ReplicaState.STARTING
    else:  # it exited while no controller watched: restart it now (or drop it if it was draining)
        p.pid, p.state, p.message = None, ReplicaState.CRASHED, "exited while the controller was down"
    return p
