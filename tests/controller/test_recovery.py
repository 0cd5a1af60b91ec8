"""How fast a deployment gets back to full capacity: the controller looks the moment a replica's
process exits (not at its next tick), and a replica that served is restarted at once the first time
it exits, with back-off only when it keeps exiting. (The seconds are measured in bench/deploy.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelyard.controller import Controller, ReplicaSpec
from modelyard.controller.backends.local import LocalBackend
from modelyard.controller.backends.local.exits import ExitWatcher
from modelyard.domain.deployments import ReplicaState
from modelyard.settings import Settings
from tests.controller.conftest import FAST, predict, ready, settled, spec, wait_for

NEVER = 3600.0  # a tick that does not come during a test


def test_a_replica_that_exits_wakes_the_controller(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    # the controller's tick is an hour: only the exit itself can make it look again
    services, admin = cluster()
    controller = controllers(services, timing=replace(FAST, tick_s=NEVER))
    services.deployments.create(admin, "iris", spec())
    [first] = ready(wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed"))
    passes = controller.passes

    os.kill(first["pid"], signal.SIGKILL)

    def replaced() -> dict[str, Any] | None:
        s = settled(services, admin, "iris", "Deployed")
        rs = ready(s) if s else []
        return rs[0] if len(rs) == 1 and rs[0]["pid"] != first["pid"] else None

    again = wait_for(replaced, "the killed replica to be restarted without a tick")
    assert (again["name"], again["restarts"]) == (first["name"], 1)
    assert predict(again["url"]) == {"predictions": [0, 2]}
    assert controller.passes > passes


def test_a_replica_that_served_restarts_at_once_and_backs_off_when_it_keeps_exiting(
    settings: Settings, model_dirs: dict[str, Path], controllers: Callable[..., Controller]
) -> None:
    now = [1000.0]  # the backend's clock: it does not move unless the test moves it
    backend = LocalBackend(settings.data_dir / "deployments", clock=lambda: now[0])
    replica_spec = ReplicaSpec(
        deployment_id=1, deployment="iris", predictor="main", template="t", model_dir=model_dirs["v1"]
    )
    try:
        name = backend.start(replica_spec).name

        def state(wanted: ReplicaState) -> Any:
            [r] = backend.replicas(1)
            return r if r.state is wanted else None

        served = wait_for(lambda: state(ReplicaState.READY), "the replica to be ready")
        os.kill(served.pid, signal.SIGKILL)
        wait_for(lambda: state(ReplicaState.CRASHED), "the exit to be seen")
        assert backend.restart_due(1, name)  # at once: no time has passed on the backend's clock

        backend.restart(1, name)
        starting = state(ReplicaState.STARTING)
        assert starting is not None and starting.restarts == 1
        os.kill(starting.pid, signal.SIGKILL)  # it exits again, before it is even ready
        crashed = wait_for(lambda: state(ReplicaState.CRASHED), "the second exit to be seen")
        assert "was killed by SIGKILL" in crashed.message
        assert not backend.restart_due(1, name)  # now it backs off
        now[0] += 0.49
        assert not backend.restart_due(1, name)
        now[0] += 0.01
        assert backend.restart_due(1, name)
    finally:
        backend.close(stop_replicas=True)


def test_the_exit_watcher_calls_its_listener_when_a_process_exits() -> None:
    exited = threading.Event()
    watcher = ExitWatcher(exited.set)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        watcher.watch(process.pid)
        assert not exited.wait(0.2)  # it runs: nothing to say
        process.kill()
        assert exited.wait(30)
        process.wait()
        exited.clear()
        watcher.watch(process.pid)  # a process that is gone already: said at once
        assert exited.wait(30)
    finally:
        process.kill()
        process.wait()
        watcher.close()


def test_a_warm_spawner_forks_replicas_and_reports_their_exits(
    settings: Settings, model_dirs: dict[str, Path], controllers: Callable[..., Controller]
) -> None:
    backend = LocalBackend(settings.data_dir / "deployments")
    plain = ReplicaSpec(
        deployment_id=1, deployment="iris", predictor="main", template="t", model_dir=model_dirs["v1"]
    )
    try:
        backend.adopt()  # a controller that takes the lead starts the spawner
        spawner = backend.spawner
        assert spawner is not None and spawner.wait_ready(120)
        forked = backend.start(plain)
        assert _parent(forked.pid) == spawner.pid  # forked, with the libraries imported already
        with_env = backend.start(replace(plain, env={"OMP_NUM_THREADS": "1"}))
        assert _parent(with_env.pid) == os.getpid()  # an env of its own: started afresh

        def ready_ones() -> list[Any]:
            return [r for r in backend.replicas(1) if r.state is ReplicaState.READY]

        wait_for(lambda: len(ready_ones()) == 2, "both replicas to be ready")
        for r in ready_ones():
            assert predict(r.url) == {"predictions": [0, 2]}
        os.kill(forked.pid, signal.SIGKILL)

        def crashed() -> Any:
            return next((r for r in backend.replicas(1) if r.state is ReplicaState.CRASHED), None)

        # its parent is the spawner, which reaped it and told the backend how it ended
        assert wait_for(crashed, "the exit to be seen").message == (
            "was killed by SIGKILL from outside modelyard (kill -9, or the out-of-memory killer)"
        )
    finally:
        backend.close(stop_replicas=True)
    assert spawner.pid is not None and not _alive(spawner.pid)  # it stopped with the backend


def _parent(pid: int | None) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_without_the_spawner_replicas_start_afresh(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services, admin = cluster()
    services.settings = services.settings.model_copy(update={"replica_spawner": False})
    controller = controllers(services)
    wait_for(lambda: controller.leading, "the controller to lead")
    assert isinstance(controller.backend, LocalBackend) and controller.backend.spawner is None
    services.deployments.create(admin, "iris", spec())
    [replica] = ready(wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed"))
    assert _parent(replica["pid"]) == os.getpid()  # posix_spawn from this process
