"""The interface between the controller and whatever runs replicas (local processes now, Kubernetes later).

The reconciler decides *what* should run; a backend knows *how*. Every method is idempotent and
answers from the backend's own view of the world (processes, pods), never from the database, so a
restarted controller can adopt what is still running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modelyard.domain.deployments import Replica


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """Everything needed to start one replica of one predictor."""

    deployment_id: int
    deployment: str  # the deployment's name (model name in V2 routes)
    predictor: str
    template: str  # replica_template(...): replicas with another template are replaced
    model_dir: Path  # a local directory with the model's files (MLmodel at its root)
    model_version: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    max_batch_size: int = 0
    max_batch_wait_ms: float = 5.0
    cpu_m: int = 500
    memory_mi: int = 512
    gpu: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "model_dir": str(self.model_dir)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplicaSpec:
        return cls(**{**data, "model_dir": Path(data["model_dir"])})


@dataclass(frozen=True, slots=True)
class LogLine:
    replica: str
    line: str


class Backend(Protocol):
    """Calls for one deployment come from one reconcile worker at a time; calls for different
    deployments may run at once."""

    def notify(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from any thread) whenever a replica's process ends, so that the
        controller looks at once; a backend that cannot tell leaves it to the controller's tick."""

    def adopt(self) -> None:
        """Take over what a previous controller left running (called on becoming the leader)."""

    def deployment_ids(self) -> set[int]:
        """Every deployment this backend still keeps something for (replicas or their records)."""

    def replicas(self, deployment_id: int) -> list[Replica]:
        """A deployment's replicas with fresh states (probes included)."""

    def model_dirs(self) -> set[Path]:
        """The model directories of all replicas kept (running, or waiting to restart): the
        controller's model cache keeps those."""

    def start(self, spec: ReplicaSpec) -> Replica:
        """Launch one new replica (state ``starting``); returns at once."""

    def drain(self, deployment_id: int, replica: str, *, reason: str = "") -> None:
        """Take a replica out of service: it finishes in-flight requests, then exits and disappears
        from ``replicas()``; ``reason`` goes into its log. Draining a replica that is already gone is
        a no-op."""

    def restart_due(self, deployment_id: int, replica: str) -> bool:
        """Whether a crashed replica's back-off has passed (the reconciler then calls ``restart``)."""

    def restart(self, deployment_id: int, replica: str) -> None:
        """Start a crashed replica again with the same spec, counting the restart."""

    def forget(self, deployment_id: int) -> None:
        """Drop everything kept for a deployment that is gone and has no replicas left (logs included)."""

    def logs(
        self, deployment_id: int, *, replica: str | None = None, tail: int = 100, gone: bool = False
    ) -> list[LogLine]:
        """The last ``tail`` lines of each replica's log (what it printed, timestamped, and what
        happened to it), oldest first, replica by replica: of the replicas the backend keeps (running,
        or waiting to restart), and with ``gone`` also of replicas that are gone. Raises ``NotFound``
        for a replica that has no logs (or is gone, without ``gone``)."""

    def follow(
        self, deployment_id: int, *, replica: str | None = None, tail: int = 10, gone: bool = False
    ) -> AsyncIterator[LogLine]:
        """``logs`` and then every new line as it is printed, until the consumer stops or the
        deployment's logs are gone."""

    def close(self, *, stop_replicas: bool) -> None:
        """The controller is stopping: stop all replicas (draining them) or leave them for adoption."""
