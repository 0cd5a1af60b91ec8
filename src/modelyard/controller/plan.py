"""One reconcile step for one predictor, as a pure function: which replicas to start and which to drain.

Updates roll surge-first (Kubernetes' maxUnavailable 0): while replicas of an old template remain, at
most ``max_surge(want)`` replicas more than wanted run, and an old replica that serves is drained only
when enough new ones are ready to take its place. A 1-replica deployment therefore keeps answering
through an update, and an update whose new replicas fail leaves the old ones serving.

The surge is every replica for a deployment of up to 4 (blue-green: the update takes one replica
start, not one per replica, and the two versions answer side by side only for the moment the new
ones take over), and a quarter of them for larger ones (Kubernetes' default maxSurge of 25%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from modelyard.domain.deployments import Replica, ReplicaState

# which replicas to give up first when there are too many: the ones that serve nothing
_KEEP_RANK = {
    ReplicaState.FAILED: 0,
    ReplicaState.CRASHED: 1,
    ReplicaState.STARTING: 2,
    ReplicaState.READY: 3,
    ReplicaState.DRAINING: 4,
}


SURGE_ALL_UP_TO = 4


def max_surge(want: int) -> int:
    """How many replicas more than ``want`` an update may run at once."""
    return max(math.ceil(want / 4), min(want, SURGE_ALL_UP_TO), 1)


@dataclass(frozen=True, slots=True)
class Step:
    start: int = 0
    drain: list[Replica] = field(default_factory=list)


def plan(want: int, template: str, replicas: list[Replica]) -> Step:
    """The step that brings ``replicas`` (one predictor's, draining ones left out) closer to ``want``
    replicas of ``template``. Applying it and planning again converges; planning twice on the same
    observation gives the same step."""
    current = [r for r in replicas if r.template == template]
    old = [r for r in replicas if r.template != template]
    drain = [r for r in old if r.state is not ReplicaState.READY]  # they serve nothing: go at once
    if len(current) > want:
        extra = sorted(current, key=lambda r: (_KEEP_RANK[r.state], -r.started_at))[: len(current) - want]
        drain += extra
        current = [r for r in current if r not in extra]
    old_ready = sorted((r for r in old if r.state is ReplicaState.READY), key=lambda r: r.started_at)
    ready = sum(1 for r in current if r.state is ReplicaState.READY)
    excess = max(0, min(ready + len(old_ready) - want, len(old_ready)))
    drain += old_ready[:excess]
    old_left = len(old_ready) - excess
    room = want - len(current)
    if old_left:
        room = min(room, want + max_surge(want) - len(current) - old_left)
    if any(r.state is ReplicaState.FAILED for r in current):
        room = 0  # the template cannot be served: more of it would only fail too
    return Step(start=max(0, room), drain=drain)
