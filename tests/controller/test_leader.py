"""Several servers on one database: one controller reconciles; when it leaves, another takes over and
adopts the replicas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelyard.controller import Controller
from tests.controller.conftest import ready, replica_pids, settled, spec, wait_for


def test_one_leader_reconciles_and_another_takes_over(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services_a, admin = cluster()
    services_b, _ = cluster()
    a = controllers(services_a, holder="server-a")
    b = controllers(services_b, holder="server-b")
    created = services_a.deployments.create(admin, "iris", spec())
    s = wait_for(lambda: settled(services_a, admin, "iris", "Deployed"), "Deployed")
    [replica] = ready(s)

    leader, follower = (a, b) if a.leading else (b, a)
    assert leader.leading and not follower.leading
    assert leader.lease.holder_now() == leader.holder
    assert leader.backend.deployment_ids() == {created["id"]}
    assert follower.backend.deployment_ids() == set()
    assert replica_pids(services_a.settings.data_dir) == {replica["pid"]}
    assert follower.passes == 0

    leader.close(stop_replicas=False)
    wait_for(lambda: follower.leading, "the other controller to take the lead")
    assert follower.lease.holder_now() == follower.holder
    services_a.deployments.scale(admin, "iris", 2)
    s = wait_for(
        lambda: (x := settled(services_a, admin, "iris", "Deployed")) and len(ready(x)) == 2 and x,
        "2 replicas from the new leader",
    )
    pids = {r["pid"] for r in ready(s)}
    assert replica["pid"] in pids  # adopted, not replaced
    assert replica_pids(services_a.settings.data_dir) == pids
