"""Helpers for the deployment API tests: a registered model with real files, a group with a member, a
viewer and an admin (and an outsider in another group), and request shortcuts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from tests.api.identity_helpers import ok
from tests.conftest import LiveServer, UserCreds, auth_header

API = "/api/2.0/mlflow"
BASE = "/deployment/api"
DEFAULT_PREDICTOR = {
    "name": "main",
    "model": "models:/iris/1",
    "replicas": 1,
    "resources": {"cpu": "500m", "memory": "512Mi", "gpu": 0},
    "instance_type": "",
    "env": {},
    "traffic": 100,
    "batching": {"max_batch_size": 0, "max_batch_wait_ms": 5.0},
}


def register_model(
    http: Any, name: str, *, files: dict[str, bytes] | None = None, headers: dict[str, str] | None = None
) -> tuple[str, str]:
    """A run with model files under ``model/`` registered as a new version of ``name``: (run id,
    experiment id). ``http`` is the in-process TestClient or an httpx client on a live server."""
    kw: dict[str, Any] = {"headers": headers} if headers else {}
    created = http.post(f"{API}/experiments/create", json={"name": f"exp-{name}"}, **kw).json()
    if "experiment_id" in created:
        eid = created["experiment_id"]
    else:  # the experiment exists already: a second version of the same model
        eid = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": f"exp-{name}"}, **kw)
        eid = eid.json()["experiment"]["experiment_id"]
    run = http.post(f"{API}/runs/create", json={"experiment_id": eid}, **kw).json()["run"]["info"]["run_id"]
    for path, content in (files or {"MLmodel": b"flavors: {}\n", "model.pkl": b"v1"}).items():
        put = http.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{eid}/{run}/artifacts/model/{path}", content=content, **kw
        )
        assert put.status_code == 200, put.text
    http.post(f"{API}/registered-models/create", json={"name": name}, **kw)
    version = http.post(
        f"{API}/model-versions/create",
        json={"name": name, "source": f"runs:/{run}/model", "run_id": run},
        **kw,
    )
    assert version.status_code == 200, version.text
    return run, str(eid)


@pytest.fixture
def registered(live_server: LiveServer, admin_token: str) -> Iterator[str]:
    """Versions 1 and 2 of model 'iris' on the live server; the run id of version 1."""
    # a busy machine (the suite shares 2 cores) can take longer than httpx's default 5 s
    with httpx.Client(base_url=live_server.url, headers=auth_header(admin_token), timeout=60) as http:
        run, _ = register_model(http, "iris")
        register_model(http, "iris")  # version 2
    yield run


@dataclass(frozen=True)
class Team:
    member: UserCreds  # alice: member of ds
    viewer: UserCreds  # victor: viewer of ds
    admin: UserCreds  # ada: admin of ds
    outsider: UserCreds  # oscar: member of another group
    run: str
    experiment: str


def make_team(http: TestClient, make_user: Callable[..., UserCreds]) -> Team:
    alice = make_user("alice", group="ds", role="member")
    victor = make_user("victor", group="ds", role="viewer")
    ada = make_user("ada", group="ds", role="admin")
    oscar = make_user("oscar", group="other", role="member")
    run, eid = register_model(http, "iris", headers=alice.headers)
    return Team(alice, victor, ada, oscar, run, eid)


@pytest.fixture
def team(http: TestClient, make_user: Callable[..., UserCreds]) -> Team:
    return make_team(http, make_user)


def create(http: TestClient, who: UserCreds, name: str, status: int = 201, **spec: Any) -> Any:
    body = {"name": name, "predictors": [{"model": "models:/iris/1"}], **spec}
    response = http.post(f"{BASE}/", json=body, headers=who.headers)
    return ok(response, status) if status < 400 else response


def listed(http: TestClient, who: UserCreds | None = None, **form: Any) -> list[str]:
    headers = who.headers if who else None
    result = ok(http.get(f"{BASE}/", params={"form_data": orjson.dumps(form).decode()}, headers=headers))
    assert result["count"] == len(result["data"])
    return [d["name"] for d in result["data"]]


def where(*filters: tuple[str, str, Any]) -> list[dict[str, Any]]:
    return [{"col": c, "opr": o, "value": v} for c, o, v in filters]
