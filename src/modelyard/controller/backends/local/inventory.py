"""The local backend's replicas that run now, read from their state files alone (no backend object, no
reaping of child processes): what ``modelyard server`` names when it stops, and counts down while
its controller drains them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from modelyard.controller.backends.local import processes


@dataclass(frozen=True, slots=True)
class RunningReplica:
    deployment: str
    replica: str
    pid: int

    @property
    def label(self) -> str:
        return f"{self.deployment}/{self.replica}"


def running(root: Path) -> list[RunningReplica]:
    """Replicas under ``root`` (``<data_dir>/deployments``) whose process runs, by deployment name."""
    found: list[RunningReplica] = []
    if not root.is_dir():
        return found
    for directory in root.iterdir():
        if not directory.name.isdigit():
            continue
        for path in directory.glob("*.json"):
            try:
                data = json.loads(path.read_text())
                pid, ident, deployment = data["pid"], str(data["ident"]), str(data["spec"]["deployment"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if isinstance(pid, int) and _runs(pid, ident):
                found.append(RunningReplica(deployment, path.stem, pid))
    return sorted(found, key=lambda r: (r.deployment, r.replica))


def _runs(pid: int, ident: str) -> bool:
    current = processes.identity(pid)
    if current == "gone":
        return False
    if ident and current:
        return current == ident
    return processes.exists(pid)
