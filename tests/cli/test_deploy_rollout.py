"""``modelyard deploy`` against a server whose controller runs real replicas (``modelyard serve-model``
processes): commands wait for the rollout and show its progress, a deployment that fails exits 1 with
the loader's error, and ``restart`` / ``start`` retry it once the cause is fixed.

The model is a real iris classifier saved in a directory the test owns; its replicas load it from
there, so the test can break the file (the replicas fail) and repair it (a retry serves).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.domain.identity import Principal
from modelyard.models.save import save_model
from modelyard.services import Services
from modelyard.settings import Settings
from tests.cli.conftest import Invoke
from tests.cli.terminal import run_on_terminal
from tests.cli.test_models_cli import failed
from tests.controller.conftest import replica_pids
from tests.models.trained import Iris, iris, sk_model  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(240)
ROWS = {"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}


@pytest.fixture
def settings(settings: Settings) -> Iterator[Settings]:
    """The live server runs its controller, and stops its replicas when it stops."""
    yield settings.model_copy(update={"controller": True, "stop_replicas_on_exit": True})
    for pid in replica_pids(settings.data_dir):  # whatever a failed test left behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def model_dir(tmp_path: Path, iris: Iris, sk_model: Any) -> Path:  # noqa: F811
    """An iris classifier registered as ``iris`` version 1, loaded by its replicas from this directory."""
    path = tmp_path / "iris-model"
    save_model(sk_model, path, input_example=iris.X.head(2))
    return path


@pytest.fixture
def registered_iris(services: Services, admin: Principal, model_dir: Path) -> Path:
    services.registry.create_registered_model(admin, name="iris")
    services.registry.create_model_version(admin, name="iris", source=str(model_dir))
    return model_dir


def shown(cli: Invoke, name: str) -> dict[str, Any]:
    result = cli("deploy", "show", name, "--json")
    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def words(text: str) -> str:
    return " ".join(text.split())


class Caller(threading.Thread):
    """Sends predictions through the gateway until stopped; counts what failed."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.ok, self.failures = url, threading.Event(), 0, []

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self.stop.is_set():
                try:
                    r = http.post(self.url, json=ROWS)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"{r.status_code} {r.text}")


def test_commands_wait_show_progress_and_restart_rolls_surge_first(
    cli: Invoke, registered_iris: Path, live_server: Any
) -> None:
    created = cli("deploy", "create", "iris-stg", "--model", "models:/iris/1")
    assert created.exit_code == 0, created.output
    out = created.stdout
    assert "Created deployment iris-stg (staging, group default)." in out
    assert "Deployment iris-stg is Deployed, 1 of 1 replica(s) ready." in out
    assert f"Endpoint: {live_server.url}/deployment/iris-stg/api/v1.0/predictions" in out
    # the progress, on stderr (no terminal: one line per change), saw the replica start
    progress = created.stderr
    assert "Deployment iris-stg is Deploying, 0 of 1 replica(s) ready." in progress
    # the replicas' own lines (a quick replica may be ready before the first poll sees it starting)
    assert ": starting" in progress or ": ready" in progress, progress
    endpoint = f"{live_server.url}/deployment/iris-stg/invocations"
    assert httpx.post(endpoint, json=ROWS).json() == {"predictions": [0, 2]}
    before = shown(cli, "iris-stg")
    [old] = before["status"]["replicas_detail"]
    logged = cli("logs", "iris-stg", "--json")
    assert logged.exit_code == 0, logged.output
    lines = json.loads(logged.stdout)
    assert {line["replica"] for line in lines} == {old["name"]}
    assert any("serving model 'iris-stg'" in line["line"] for line in lines), lines

    caller = Caller(endpoint)
    caller.start()
    try:
        restarted = cli("deploy", "restart", "iris-stg")
    finally:
        caller.stop.set()
        caller.join()
    assert restarted.exit_code == 0, restarted.output
    assert "Restarting deployment iris-stg: new replicas replace the old ones." in restarted.stdout
    assert "Deployment iris-stg is Deployed, 1 of 1 replica(s) ready." in restarted.stdout
    after = shown(cli, "iris-stg")
    [new] = after["status"]["replicas_detail"]
    assert new["name"] != old["name"] and new["pid"] != old["pid"] and new["state"] == "ready"
    # surge-first: the new replica was ready before the old one drained, so no request failed
    assert caller.ok > 0 and caller.failures == []
    # a restart is a spec change of its own (history, audit), with the same model and replicas
    assert len(after["history"]) == len(before["history"]) + 1
    predictor = after["spec"]["predictors"][0]
    assert predictor["restarted_at"] > 0 and (predictor["model"], predictor["replicas"]) == (
        "models:/iris/1",
        1,
    )

    # on a terminal, the progress is a live view redrawn in place (a spinner, the replicas' states)
    code, out, raw = run_on_terminal("--url", live_server.url, "deploy", "scale", "iris-stg", "2")
    assert code == 0, out
    assert "Deployment iris-stg is Deploying, 1 of 2 replica(s) ready." in out
    # the view's rows: each replica with its state (a new one may be ready before a poll sees it start)
    assert re.search(r"main-[0-9a-f]{6} +(starting|ready)", out), out
    assert any(frame in raw for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"), raw
    assert out.rstrip().endswith(
        "Deployment iris-stg is Deployed, 2 of 2 replica(s) ready.\n"
        f"Endpoint: {live_server.url}/deployment/iris-stg/api/v1.0/predictions"
    )

    stopped = cli("deploy", "stop", "iris-stg")
    assert stopped.exit_code == 0, stopped.output
    assert "Deployment iris-stg is Stopped, no replica runs." in stopped.stdout
    # while stopping, what still runs (it used to read "Stopping 2/0 replica(s) available")
    assert "Deployment iris-stg is Stopping, 2 replica(s) still draining." in stopped.stderr
    failed(
        cli("deploy", "restart", "iris-stg"), "Deployment 'iris-stg' is stopped: no replica runs to restart."
    )

    as_json = cli("deploy", "start", "iris-stg", "--json")
    assert as_json.exit_code == 0, as_json.output
    started = json.loads(as_json.stdout)  # stdout is the JSON alone; the progress went to stderr
    assert (started["status"]["phase"], started["status"]["available_replicas"]) == ("Deployed", 2)


def test_a_failed_deployment_exits_1_with_the_error_and_is_retried_by_start_and_restart(
    cli: Invoke, registered_iris: Path, live_server: Any
) -> None:
    pickle = registered_iris / "model.pkl"
    good = pickle.read_bytes()
    pickle.write_bytes(b"this is not a pickle\n")

    broken = cli("deploy", "create", "iris-stg", "--model", "models:/iris/1")
    assert broken.exit_code == 1, broken.output
    assert "Deployment iris-stg is Deployed" not in broken.stdout
    # after the progress lines (which showed the replica crash and restart), the error
    progress = words(broken.stderr[: broken.stderr.index("\nError: ")])
    assert "main-" in progress
    assert "crashed exited with code 3: cannot serve model 'iris-stg': UnpicklingError" in progress
    assert "is Failed" not in progress  # the failure is reported once, in full
    error = broken.stderr[broken.stderr.index("\nError: ") + 1 :]
    first = error.splitlines()[0]
    assert first.startswith("Error: deployment iris-stg failed: Replica main-")
    # the replica's error line (the model loader's), not a traceback; then how to retry
    assert first.endswith(
        "before it was ready, 3 times in a row: cannot serve model 'iris-stg': UnpicklingError: could not find MARK"
    ), first
    assert "Traceback" not in error
    assert "Fix the cause, then try again with `modelyard deploy restart iris-stg`" in words(error)
    assert shown(cli, "iris-stg")["status"]["phase"] == "Failed"

    pickle.write_bytes(good)  # the cause is fixed; the spec is the same
    retried = cli("deploy", "start", "iris-stg")
    assert retried.exit_code == 0, retried.output
    assert "Retrying the failed deployment iris-stg." in retried.stdout
    assert "Deployment iris-stg is Deployed, 1 of 1 replica(s) ready." in retried.stdout
    endpoint = f"{live_server.url}/deployment/iris-stg/invocations"
    assert httpx.post(endpoint, json=ROWS).json() == {"predictions": [0, 2]}
    [serving] = shown(cli, "iris-stg")["status"]["replicas_detail"]

    # a restart whose new replica fails: Failed (exit 1, the deployment as JSON on stdout), while the
    # old replica keeps serving, as a surge-first rollout promises
    pickle.write_bytes(b"broken again\n")
    again = cli("deploy", "restart", "iris-stg", "--json")
    assert again.exit_code == 1, again.output
    found = json.loads(again.stdout)
    assert found["status"]["phase"] == "Failed"
    states = {r["name"]: r["state"] for r in found["status"]["replicas_detail"]}
    assert states[serving["name"]] == "ready" and sorted(states.values()) == ["failed", "ready"]
    assert "deployment iris-stg failed" in again.stderr
    assert httpx.post(endpoint, json=ROWS).status_code == 200

    pickle.write_bytes(good)
    fixed = cli("deploy", "restart", "iris-stg")
    assert fixed.exit_code == 0, fixed.output
    [replica] = shown(cli, "iris-stg")["status"]["replicas_detail"]
    assert replica["state"] == "ready" and replica["name"] != serving["name"]
