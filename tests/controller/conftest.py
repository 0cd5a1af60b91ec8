"""Fixtures for the controller tests: real model files, real services on the test database, real
``serve-model`` processes — and a teardown that leaves no process behind, even when a test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.controller import Controller, Timing
from modelyard.domain.identity import Principal
from modelyard.models.save import save_model
from modelyard.services import Services, build_services
from modelyard.settings import Settings

FAST = Timing(tick_s=0.2, lease_s=10.0, renew_s=0.3, drain_grace_s=0.8)
WAIT_S = 90.0


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two versions of an iris classifier and a broken copy (its pickle is garbage)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True, as_frame=True)
    root = tmp_path_factory.mktemp("controller-models")
    dirs = {}
    for name, c in (("v1", 1.0), ("v2", 0.01)):
        model = LogisticRegression(C=c, max_iter=300).fit(features, labels)
        save_model(model, root / name, input_example=features.head(2))
        dirs[name] = root / name
    broken = root / "broken"
    broken.mkdir()
    for f in dirs["v1"].iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.pkl").write_bytes(b"this is not a pickle\n")
    dirs["broken"] = broken
    return dirs


@pytest.fixture
def cluster(
    settings: Settings, model_dirs: dict[str, Path]
) -> Iterator[Callable[..., tuple[Services, Principal]]]:
    """``cluster()`` -> (services, admin) on the test database with the controller on; each call is
    one more server (its own Services). The models ``iris`` v1, v2 and ``broken`` v1 are registered."""
    made: list[Services] = []
    made_admin: list[Principal] = []
    ctl_settings = settings.model_copy(update={"controller": True})

    def make() -> tuple[Services, Principal]:
        services = build_services(ctl_settings)
        made.append(services)
        if len(made) == 1:
            _, token = services.identity.bootstrap_admin()
            made_admin[:] = [services.identity.authenticate_token(token)]
            admin = made_admin[0]
            services.registry.create_registered_model(admin, name="iris")
            for v in ("v1", "v2"):
                services.registry.create_model_version(admin, name="iris", source=str(model_dirs[v]))
            services.registry.create_registered_model(admin, name="broken")
            services.registry.create_model_version(admin, name="broken", source=str(model_dirs["broken"]))
        return services, made_admin[0]

    yield make
    for services in made:
        services.close()


@pytest.fixture
def controllers(settings: Settings) -> Iterator[Callable[..., Controller]]:
    """``start(services)`` -> a running controller; all are closed (replicas stopped) at the end, and
    any replica process still alive under the data dir is killed."""
    started: list[Controller] = []

    def start(services: Services, **kwargs: Any) -> Controller:
        controller = Controller(services, **{"timing": FAST, **kwargs})
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in reversed(started):
        with contextlib.suppress(Exception):
            controller.close(stop_replicas=True)
    for pid in replica_pids(settings.data_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def replica_pids(data_dir: Path) -> set[int]:
    """Live processes whose stdout is a file under ``data_dir``: the replicas, found without asking
    the controller (zombies have no open files, so they do not count)."""
    found = set()
    prefix = str(data_dir) + os.sep
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "fd" / "1").startswith(prefix):
                found.add(int(entry.name))
    return found


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` and its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def status(services: Services, admin: Principal, name: str) -> dict[str, Any]:
    view = services.deployments.get(admin, name)
    return {**view["status"], "spec": view["spec"]}


def settled(services: Services, admin: Principal, name: str, phase: str) -> dict[str, Any] | None:
    """The status once the controller has seen the latest spec and reports ``phase``."""
    s = status(services, admin, name)
    ok = s["phase"] == phase and s["observed_generation"] == s["generation"]
    return s if ok else None


def ready(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in s["replicas_detail"] if r["state"] == "ready"]


IRIS_ROWS = {
    "dataframe_split": {
        "columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
        "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
    }
}


def predict(url: str) -> Any:
    response = httpx.post(f"{url}/invocations", json=IRIS_ROWS, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def spec(model: str = "models:/iris/1", replicas: int = 1) -> dict[str, Any]:
    return {"predictors": [{"name": "main", "model": model, "replicas": replicas}]}
