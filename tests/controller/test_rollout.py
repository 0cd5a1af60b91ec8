"""Serving continues through change: a surge-first update with a client sending requests all along,
and a controller restart that adopts the replicas still running."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from modelyard.controller import Controller
from modelyard.controller.backends.local import LocalBackend
from tests.controller.conftest import predict, ready, replica_pids, settled, spec, wait_for

ROUTE_CACHE_S = 0.5  # what the gateway caches a route for


class Client(threading.Thread):
    """Sends predictions to the deployment's ready replicas the way the gateway does: it reads the
    route (ready replica URLs) at most every ``ROUTE_CACHE_S`` and picks one per request."""

    def __init__(self, route: Callable[[], tuple[str, ...]]) -> None:
        super().__init__(daemon=True)
        self.route = route
        self.stop = threading.Event()
        self.ok: dict[str, int] = {}
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            urls, fetched = self.route(), time.monotonic()
            while not self.stop.is_set():
                if time.monotonic() - fetched >= ROUTE_CACHE_S:
                    urls, fetched = self.route(), time.monotonic()
                if not urls:
                    self.failures.append("no ready replica in the route")
                    time.sleep(0.05)
                    continue
                url = random.choice(urls)
                try:
                    r = http.post(f"{url}/invocations", json={"inputs": [[5.1, 3.5, 1.4, 0.2]]})
                    if r.status_code == 200:
                        self.ok[url] = self.ok.get(url, 0) + 1
                    else:
                        self.failures.append(f"{url}: {r.status_code} {r.text}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{url}: {exc!r}")


def test_update_rolls_surge_first_without_a_failed_request(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services, admin = cluster()
    controllers(services)
    services.deployments.create(admin, "iris", spec())
    [old] = ready(wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed"))

    def route() -> tuple[str, ...]:
        found = services.deployments.route("iris")
        assert found is not None
        return found.predictors["main"][1]

    client = Client(route)
    client.start()
    try:
        wait_for(lambda: client.ok.get(old["url"], 0) >= 5, "requests to the old replica")
        services.deployments.update(admin, "iris", spec("models:/iris/2"))

        def rolled() -> dict[str, Any] | None:
            s = settled(services, admin, "iris", "Deployed")
            ok = s and len(s["replicas_detail"]) == 1 and ready(s)[0]["pid"] != old["pid"]
            return s if ok else None

        [new] = ready(wait_for(rolled, "the new replica to replace the old one"))
        wait_for(lambda: client.ok.get(new["url"], 0) >= 5, "requests to the new replica")
    finally:
        client.stop.set()
        client.join(timeout=30)
    assert client.failures == []
    assert new["template"] != old["template"]
    assert predict(new["url"]) == {"predictions": [0, 2]}
    assert replica_pids(services.settings.data_dir) == {new["pid"]}


def test_restarted_controller_adopts_running_replicas(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    services, admin = cluster()
    first = controllers(services)
    created = services.deployments.create(admin, "iris", spec(replicas=2))
    s = wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed")
    before = {(r["name"], r["pid"]) for r in ready(s)}
    assert len(before) == 2

    first.close(stop_replicas=False)  # the server exits; its replicas keep serving
    for r in ready(s):
        assert predict(r["url"]) == {"predictions": [0, 2]}

    second = controllers(services)
    wait_for(lambda: second.leading, "the new controller to take the lead")

    def adopted() -> set[tuple[str, int | None]]:
        found = {(r.name, r.pid) for r in second.backend.replicas(created["id"]) if r.state == "ready"}
        return found if found == before else set()

    wait_for(adopted, "the new controller to see the same processes ready")
    # a pass of the new controller over the deployment changes nothing
    passes = second.passes
    wait_for(lambda: second.passes >= passes + 3, "a few controller passes")
    s = settled(services, admin, "iris", "Deployed")
    assert s is not None
    assert {(r["name"], r["pid"]) for r in ready(s)} == before
    assert replica_pids(services.settings.data_dir) == {pid for _, pid in before}

    # and it keeps managing them
    services.deployments.scale(admin, "iris", 1)
    wait_for(lambda: replica_pids(services.settings.data_dir) < {pid for _, pid in before}, "scale to 1")


def test_a_replica_that_served_is_adopted_serving_even_if_it_is_slow_to_answer_then(
    cluster: Callable[..., Any], controllers: Callable[..., Controller]
) -> None:
    """A new server must not take serving replicas out of the route because one readiness probe timed
    out while the machine was busy (the gateway would answer 503 for nothing): a replica whose state
    file says it served is adopted ready, and only the liveness probe (several misses in a row) can
    take it out."""
    services, admin = cluster()
    first = controllers(services)
    created = services.deployments.create(admin, "iris", spec(replicas=1))
    s = wait_for(lambda: settled(services, admin, "iris", "Deployed"), "Deployed")
    [replica] = ready(s)
    first.close(stop_replicas=False)

    os.kill(replica["pid"], signal.SIGSTOP)  # it answers nothing for now
    try:
        backend = LocalBackend(services.settings.data_dir / "deployments", spawner=False)
        backend.adopt()
        [adopted] = backend.replicas(created["id"])
        assert (adopted.name, adopted.pid, adopted.state) == (replica["name"], replica["pid"], "ready")
    finally:
        os.kill(replica["pid"], signal.SIGCONT)
    assert predict(replica["url"]) == {"predictions": [0, 2]}
    backend.close(stop_replicas=True)
