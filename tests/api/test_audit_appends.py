"""Issue 12's per-point audit rows: metric points and artifact uploads are summarised into one chained
event per run (or model), user and interval, while creations, params, tags, deletions and lifecycle
changes stay events of their own; and the counts survive a ``kill -9`` of the server (they are in the
database, committed with the points) and are chained by the next server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.services.audit import AppendSummaries
from modelyard.services.common import now_ms
from modelyard.settings import Settings
from modelyard.storage.orm import AuditAppendRow
from tests.conftest import UserCreds, auth_header

API = "/api/2.0/mlflow"
SYSTEM = Principal.system()


class Clock:
    """Milliseconds that start at the real time and move only when told."""

    def __init__(self) -> None:
        self.now = now_ms()

    def __call__(self) -> int:
        return self.now


def run_events(services: Services, run_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    events, _ = services.audit.query(SYSTEM, resource_type="run", resource_id=run_id, limit=1000)
    return [(e.action, e.actor, e.changes) for e in reversed(events)]


def post(http: TestClient, who: UserCreds, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = http.post(f"{API}{path}", json=body, headers=who.headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_metric_points_and_uploads_are_one_event_per_run_and_interval(
    http: TestClient, services: Services, make_user: Callable[..., UserCreds]
) -> None:
    clock = Clock()
    services.audit.appends = AppendSummaries(services.db, interval_s=60, clock=clock)
    alice = make_user("alice", group="vision")
    eid = post(http, alice, "/experiments/create", {"name": "cats"})["experiment_id"]
    run_id = post(http, alice, "/runs/create", {"experiment_id": eid, "run_name": "r1"})["run"]["info"][
        "run_id"
    ]
    for off in range(0, 19_800, 1000):
        metrics = [
            {"key": f"k{i % 4}", "value": float(i), "timestamp": 1, "step": i}
            for i in range(off, min(off + 1000, 19_800))
        ]
        post(http, alice, "/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    for step in range(200):
        post(
            http,
            alice,
            "/runs/log-metric",
            {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": step},
        )
    # params and tags are what a person asks about: an event of their own, at once
    post(
        http,
        alice,
        "/runs/log-batch",
        {
            "run_id": run_id,
            "params": [{"key": "lr", "value": "0.1"}],
            "tags": [{"key": "team", "value": "cv"}],
            "metrics": [{"key": "acc", "value": 0.9, "timestamp": 1, "step": s} for s in range(2)],
        },
    )
    for name in ("model/MLmodel", "model/model.pkl", "notes.txt"):
        r = http.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts/{name}",
            content=b"x" * 10,
            headers=alice.headers,
        )
        assert r.status_code == 200, r.text
    r = http.delete(
        f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run_id}/artifacts/notes.txt", headers=alice.headers
    )
    assert r.status_code == 200, r.text

    assert [(a, who) for a, who, _ in run_events(services, run_id)] == [
        ("create", "alice"),
        ("log", "alice"),
        ("delete_artifact", "alice"),
    ]
    _, _, logged = run_events(services, run_id)[1]
    # points that come with params or tags are counted in that call's event, not summarised again
    metrics_in_passing = {"count": 2, "keys": {"acc": 2}}
    assert logged == {
        "details": {"params": {"lr": "0.1"}, "tags": {"team": "cv"}, "metrics": metrics_in_passing}
    }
    # (the app's background writer runs the same flush every second: the tests read the trail, not the
    # number a call wrote, which depends on which of the two got there first)
    services.audit.flush()
    assert len(run_events(services, run_id)) == 3  # counting for less than an interval: nothing chained yet

    clock.now += 61_000
    services.audit.flush()
    events = run_events(services, run_id)
    assert sorted((a, who) for a, who, _ in events[3:]) == [
        ("log_metrics", "alice"),
        ("upload_artifacts", "alice"),
    ]
    by_action = {a: changes for a, _, changes in events}
    metrics, uploads = by_action["log_metrics"], by_action["upload_artifacts"]
    assert metrics["count"] == 20_000
    assert metrics["keys"] == {"k0": 4950, "k1": 4950, "k2": 4950, "k3": 4950, "loss": 200}
    assert metrics["from"] <= metrics["to"]
    assert (uploads["count"], uploads["bytes"]) == (3, 30)
    assert set(uploads["paths"]) == {
        f"{eid}/{run_id}/artifacts/{n}" for n in ("model/MLmodel", "model/model.pkl", "notes.txt")
    }
    # the run's group admin sees the summaries like any event of the group
    (summary,) = [e for e in services.audit.query(SYSTEM, action="log_metrics")[0]]
    assert summary.group_id == services.identity.get_group(SYSTEM, "vision").id
    assert summary.resource_name == "r1"
    assert services.audit.verify().ok
    # the next interval starts anew
    post(
        http,
        alice,
        "/runs/log-metric",
        {"run_id": run_id, "key": "loss", "value": 0.1, "timestamp": 2, "step": 999},
    )
    clock.now += 61_000
    services.audit.flush()
    assert run_events(services, run_id)[-1][2]["keys"] == {"loss": 1}


# ---- a real server, killed and restarted --------------------------------------------------------------


class ServerProcess:
    def __init__(self, settings: Settings, env: dict[str, str]) -> None:
        self.settings, self.env = settings, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "modelyard", "server", "--port", str(port)]
        cmd += ["--data-dir", str(self.settings.data_dir), "--backend-store-uri", self.settings.database_url]
        log = (self.settings.data_dir.parent / "server.log").open("ab")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.settings.data_dir.parent / "server.log").read_text()[
                -3000:
            ]
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self, *, kill: bool) -> None:
        assert self.proc is not None
        if kill:
            self.proc.kill()  # SIGKILL: no shutdown, nothing flushed
        else:
            self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture
def server_process(settings: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {**os.environ, "MODELYARD_CONFIG": str(tmp_path / "config.json"), "MODELYARD_CONTROLLER": "false"}
    server = ServerProcess(settings, env)
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(10)


def test_counts_survive_a_kill_and_are_chained_by_the_next_server(
    services: Services, admin_token: str, server_process: ServerProcess
) -> None:
    server_process.start()
    with httpx.Client(base_url=server_process.url, headers=auth_header(admin_token), timeout=30) as c:
        r = c.post(f"{API}/runs/create", json={"experiment_id": "0", "run_name": "killed"})
        run_id = r.json()["run"]["info"]["run_id"]
        for off in range(0, 5000, 500):
            metrics = [
                {"key": "loss", "value": 1.0, "timestamp": 1, "step": s} for s in range(off, off + 500)
            ]
            assert (
                c.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).status_code
                == 200
            )
    server_process.stop(kill=True)
    # acknowledged points are counted in the database, not yet in the chain
    with services.db.read() as s:
        assert s.scalar(select(func.sum(AuditAppendRow.count))) == 5000
    assert [a for a, _, _ in run_events(services, run_id)] == ["create"]

    server_process.start()
    server_process.stop(kill=False)  # a clean shutdown chains every count
    events = run_events(services, run_id)
    assert [a for a, _, _ in events] == ["create", "log_metrics"]
    assert events[1][2]["count"] == 5000 and events[1][2]["keys"] == {"loss": 5000}
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditAppendRow)) == 0
    assert services.audit.verify().ok
