"""Deployments end to end on real ``serve-model`` processes: deploy, scale, stop and start, a crashed
replica, a model that cannot load, and delete in the middle of an update."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from modelyard.controller import Controller, LogLine
from modelyard.controller.backends.local.backend import Liveness
from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.serving.output import STAMP, unstamped
from tests.controller.conftest import FAST, predict, ready, replica_pids, settled, spec, status, wait_for


def test_deploy_scale_stop_start(cluster: Callable[..., Any], controllers: Callable[..., Controller]) -> None:
    services, admin = cluster()
    controller = controllers(services)
    created = services.deployments.create(admin, "iris", spec())
    data_dir = services.settings.data_dir

    s = wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed")
    [replica] = ready(s)
    assert predict(replica["url"]) == {"predictions": [0, 2]}
    assert replica_pids(data_dir) == {replica["pid"]}
    assert (s["replicas"], s["available_replicas"]) == (1, 1)
    # `ps` says what it is (setproctitle is installed with the test dependencies)
    cmdline = Path(f"/proc/{replica['pid']}/cmdline").read_bytes().rstrip(b"\0").decode()
    assert cmdline == f"modelyard serve-model iris/{replica['name']}"
    assert Path(f"/proc/{replica['pid']}/comm").read_text().strip() == f"iris/{replica['name']}"[:15]

    # the replica's output is in its log: the API and `modelyard logs` read it through the backend
    lines = controller.backend.logs(created["id"])
    assert any("serving model" in line.line and line.replica == replica["name"] for line in lines)
    with pytest.raises(NotFound):
        controller.backend.logs(created["id"], replica="main-nope")

    services.deployments.scale(admin, "iris", 3)
    s = wait_for(
        lambda: (x := settled(services, admin, "iris", "Deployed")) and len(ready(x)) == 3 and x, "3 ready"
    )
    pids = {r["pid"] for r in ready(s)}
    names = {r["name"] for r in ready(s)}
    assert len(pids) == 3 and replica["pid"] in pids
    assert replica_pids(data_dir) == pids
    for r in ready(s):
        assert predict(r["url"]) == {"predictions": [0, 2]}

    services.deployments.scale(admin, "iris", 1)
    s = wait_for(
        lambda: (x := settled(services, admin, "iris", "Deployed")) and len(x["replicas_detail"]) == 1 and x,
        "back to 1 replica",
    )
    [kept] = ready(s)
    wait_for(lambda: replica_pids(data_dir) == {kept["pid"]}, "the two others to exit")

    # replicas that are gone are left out of the logs, unless asked for; their logs end with why
    def shown(**kwargs: Any) -> set[str]:
        return {line.replica for line in controller.backend.logs(created["id"], **kwargs)}

    wait_for(lambda: shown() == {kept["name"]}, "the logs of the drained replicas to be left out")
    assert shown(gone=True) == names
    for name in names - {kept["name"]}:
        with pytest.raises(NotFound, match=r"add all=true"):
            controller.backend.logs(created["id"], replica=name)
        lines = controller.backend.logs(created["id"], replica=name, gone=True)
        assert all(STAMP.match(line.line) for line in lines)
        events = [unstamped(line.line) for line in lines if "[modelyard controller]" in line.line]
        assert events[-2:] == [
            "[modelyard controller] draining (scaled down to 1 replica(s)): sent SIGTERM; requests in "
            "flight have 30 s to finish",
            "[modelyard controller] exited after draining",
        ], events

    services.deployments.stop(admin, "iris")
    s = wait_for(lambda: settled(services, admin, "iris", "Stopped"), "Stopped")
    assert s["replicas_detail"] == [] and s["available_replicas"] == 0
    assert replica_pids(data_dir) == set()

    services.deployments.start(admin, "iris")
    s = wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed again")
    [again] = ready(s)
    assert predict(again["url"]) == {"predictions": [0, 2]}
    assert replica_pids(data_dir) == {again["pid"]}


def test_killed_replica_is_replaced(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services, admin = cluster()
    controller = controllers(services)
    created = services.deployments.create(admin, "iris", spec())
    [first] = ready(wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed"))
    followed: list[LogLine] = []

    async def follow_until_ready_again() -> None:
        with anyio.fail_after(60):
            async for item in controller.backend.follow(created["id"], tail=1):
                followed.append(item)
                if "serving model" in item.line and f"pid {first['pid']}" not in item.line:
                    return

    follower = threading.Thread(target=anyio.run, args=(follow_until_ready_again,))
    follower.start()
    wait_for(lambda: followed, "the last line of the log, from follow")  # it reads from here on
    os.kill(first["pid"], signal.SIGKILL)

    again = wait_for(lambda: replaced(services, admin, first), "a new process for the killed replica")
    assert (again["name"], again["restarts"]) == (first["name"], 1)
    assert predict(again["url"]) == {"predictions": [0, 2]}
    assert replica_pids(services.settings.data_dir) == {again["pid"]}
    follower.join(timeout=60)
    # following the log showed the new process's lines as they were printed
    assert followed[-1].replica == first["name"]
    assert f"pid {again['pid']}" in followed[-1].line
    # and what happened in between, each line with its time: the exit and why, the restart (at once:
    # the first exit has no back-off), the new process ready
    lines = [item.line for item in controller.backend.logs(created["id"], replica=first["name"])]
    assert all(STAMP.match(line) for line in lines), lines
    events = [unstamped(line) for line in lines if "[modelyard controller]" in line]
    killed = "was killed by SIGKILL from outside modelyard (kill -9, or the out-of-memory killer)"
    assert events[0].startswith(f"[modelyard controller] started (pid {first['pid']}, port "), events
    assert events[1].startswith("[modelyard controller] ready: answered its readiness probe"), events
    assert events[2] == f"[modelyard controller] {killed}; restarting now", events
    assert events[3].startswith(f"[modelyard controller] restarted (pid {again['pid']}, port "), events
    assert events[3].endswith(f"; restart 1, after it {killed})"), events
    assert events[4].startswith("[modelyard controller] ready: answered its readiness probe"), events


def test_model_that_cannot_load_fails_with_the_loader_error(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services, admin = cluster()
    controllers(services)
    services.deployments.create(admin, "bad", spec("models:/broken/1"))

    s = wait_for(lambda: settled(services, admin, "bad", "Failed"), "Failed")
    assert "cannot serve model 'bad': UnpicklingError" in s["message"], s["message"]
    assert "3 times in a row" in s["message"]
    [replica] = s["replicas_detail"]
    assert (replica["state"], replica["pid"], replica["restarts"]) == ("failed", None, 2)
    assert replica_pids(services.settings.data_dir) == set()

    # a fixed spec replaces the failed replica
    services.deployments.update(admin, "bad", spec("models:/iris/1"))
    s = wait_for(lambda: settled(services, admin, "bad", "Deployed"), "Deployed after the fix")
    assert [r["state"] for r in s["replicas_detail"]] == ["ready"]


def test_delete_while_updating_leaves_no_process(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services, admin = cluster()
    controller = controllers(services)
    created = services.deployments.create(admin, "iris", spec(replicas=2))
    data_dir = services.settings.data_dir
    s = wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed")
    seen = {r["pid"] for r in s["replicas_detail"]}
    old_template = s["replicas_detail"][0]["template"]

    services.deployments.update(admin, "iris", spec("models:/iris/2", replicas=2))

    def new_replica_running() -> bool:
        rs = status(services, admin, "iris")["replicas_detail"]
        seen.update(r["pid"] for r in rs if r["pid"])
        return any(r["template"] != old_template and r["pid"] for r in rs)

    wait_for(new_replica_running, "the update to start a new replica")
    seen |= replica_pids(data_dir)
    assert len(seen) >= 3  # the 2 old ones and 1 or 2 new ones (the second starts once the first is ready)
    services.deployments.delete(admin, "iris")

    wait_for(lambda: not replica_pids(data_dir), "every replica process to exit")
    wait_for(lambda: not controller.backend.deployment_ids(), "the backend to forget the deployment")
    assert not (data_dir / "deployments" / str(created["id"])).exists()
    for pid in seen:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_hung_replica_is_killed_and_restarted(
    cluster: Callable[..., Any], controllers: Callable[..., Controller], caplog: pytest.LogCaptureFixture
) -> None:
    # a replica whose process runs but does not answer (stopped here; a deadlock or a model stuck
    # holding the GIL look the same from outside) is found by its liveness probe and replaced
    services, admin = cluster()
    probe = Liveness(period_s=0.2, timeout_s=0.3, failures=2)
    controller = controllers(services, timing=replace(FAST, liveness=probe))
    created = services.deployments.create(admin, "iris", spec())
    [first] = ready(wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed"))

    # a replica that answers passes probe after probe: same process, no restart
    since, passes = time.monotonic(), controller.passes
    wait_for(
        lambda: time.monotonic() - since > 5 * probe.period_s and controller.passes > passes + 5, "probes"
    )
    [still] = ready(status(services, admin, "iris"))
    assert (still["pid"], still["restarts"]) == (first["pid"], 0)

    os.kill(first["pid"], signal.SIGSTOP)

    again = wait_for(lambda: replaced(services, admin, first), "a new process for the hung replica")
    assert (again["name"], again["restarts"]) == (first["name"], 1)
    assert predict(again["url"]) == {"predictions": [0, 2]}
    assert replica_pids(services.settings.data_dir) == {again["pid"]}  # the stopped one was killed
    reason = (
        "stopped answering: 2 liveness probes in a row (GET /v2/health/live every 0.2 s) "
        "got no answer within 0.3 s; it was killed"
    )
    logged = [unstamped(line.line) for line in controller.backend.logs(created["id"], replica=first["name"])]
    probe = "GET /v2/health/live got no answer within 0.3 s"
    assert f"[modelyard controller] liveness probe failed (1 of 2): {probe}" in logged
    assert f"[modelyard controller] {reason}" in logged
    assert any(reason in record.getMessage() for record in caplog.records)


def replaced(services: Services, admin: Principal, first: dict[str, Any]) -> dict[str, Any] | None:
    """The deployment's one ready replica once it is another process than ``first``."""
    s = settled(services, admin, "iris", "Deployed")
    rs = ready(s) if s else []
    return rs[0] if len(rs) == 1 and rs[0]["pid"] != first["pid"] else None
