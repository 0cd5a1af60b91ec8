"""Every route of both APIs, walked from the app's route table (a new route is covered without editing
this file): group B's member sends requests that are valid with B's own ids, each time with one
id-bearing field (a path parameter, a query parameter or a body field) set to group A's resource, and
again set to an id that does not exist. The two answers must be the same (status, error code, message
modulo the id), and the one with A's id must write nothing.

Requests are built from what the route table and the resource API declare: path parameters by name,
resource API bodies from each resource's ``_info`` forms (a field with a relation is an id), MLflow
routes from one body holding every field those routes read. The gateway's ``/deployment/<name>/...``
data plane is not in the route table (it is middleware) and is tested with the gateway.
"""

from __future__ import annotations

import copy
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from modelyard.api.ui.paths import is_ui_path
from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.settings import Settings
from modelyard.storage.orm import AuditEventRow, AuditHeadRow, Base, ControllerLeaseRow
from tests.api.identity_helpers import group_id
from tests.conftest import UserCreds

API = "/api/2.0/mlflow"
MISSING_HEX = "f" * 32
SKIP_PREFIXES = ("/docs", "/redoc", "/openapi.json", "/static/")
UNCOUNTED = {AuditEventRow.__tablename__, AuditHeadRow.__tablename__, ControllerLeaseRow.__tablename__}


@dataclass
class World:
    """One group's ids, by the kind of resource they name."""

    ids: dict[str, Any]


def _ok(r: Any) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


def _make_world(http: TestClient, services: Services, who: UserCreds, tag: str) -> World:
    def post(route: str, body: dict[str, Any]) -> Any:
        return _ok(http.post(f"{API}/{route}", json=body, headers=who.headers))

    h = who.headers
    eid = post("experiments/create", {"name": f"exp-{tag}"})["experiment_id"]
    run = post("runs/create", {"experiment_id": eid, "run_name": f"run-{tag}"})["run"]["info"]["run_id"]
    post(
        "runs/log-batch", {"run_id": run, "metrics": [{"key": "k", "value": 1.0, "timestamp": 1, "step": 0}]}
    )
    dataset = {"name": f"d-{tag}", "digest": "1", "source_type": "local", "source": "/d"}
    post("runs/log-inputs", {"run_id": run, "datasets": [{"dataset": dataset}]})
    model = post("logged-models", {"experiment_id": eid, "source_run_id": run})["model"]["info"]["model_id"]
    post("registered-models/create", {"name": f"rm-{tag}"})
    post(
        "model-versions/create", {"name": f"rm-{tag}", "source": f"mlflow-artifacts:/{eid}/{run}/artifacts/m"}
    )
    deployment = _ok(
        http.post(
            "/deployment/api/",
            json={"name": f"dep-{tag}", "predictors": [{"model": f"models:/rm-{tag}/1"}]},
            headers=h,
        )
    )["result"]
    token = _ok(http.post(f"/deployment/api/dep-{tag}/tokens", json={"name": "t"}, headers=h))["result"]
    run_row = _ok(http.get(f"/run/api/{run}", headers=h))["result"]
    version = _ok(http.get("/model_version/api/", headers=h))["result"]["data"][0]
    gid = group_id(services, Principal.system(), f"team-{tag}")
    projects = _ok(http.get("/project/api/", headers=h))["result"]["data"]
    me = _ok(http.get("/user/api/me", headers=h))["result"]
    memberships = _ok(http.get("/membership/api/", headers=h))["result"]["data"]
    tokens = _ok(http.get("/token/api/", headers=h))["result"]["data"]
    return World(
        {
            "experiment": eid,
            "run": run,
            "dataset": run_row["datasets"][0]["dataset_uuid"],
            "logged_model": model,
            "registered_model_name": f"rm-{tag}",
            "registered_model": version["registered_model_id"],
            "model_version": version["id"],
            "deployment": deployment["id"],
            "deployment_name": f"dep-{tag}",
            "deployment_token": token["id"],
            "group": gid,
            "group_name": f"team-{tag}",
            "project": projects[0]["id"],
            "user": me["id"],
            "membership": memberships[0]["id"],
            "token": tokens[0]["id"],
        }
    )


MISSING: dict[str, Any] = {
    "experiment": "99999",
    "run": MISSING_HEX,
    "dataset": MISSING_HEX,
    "logged_model": "m-" + MISSING_HEX,
    "registered_model_name": "no-such-model",
    "registered_model": 99999,
    "model_version": 99999,
    "deployment": 99999,
    "deployment_name": "no-such-deployment",
    "deployment_token": 99999,
    "group": 99999,
    "group_name": "no-such-group",
    "project": 99999,
    "user": 99999,
    "membership": 99999,
    "token": 99999,
}

# Resource API path keys: the resource's own ids.
RESOURCE_KIND = {
    "project": "project",
    "experiment": "experiment",
    "run": "run",
    "dataset": "dataset",
    "registered_model": "registered_model",
    "model_version": "model_version",
    "deployment": "deployment",
    "group": "group",
    "user": "user",
    "membership": "membership",
    "token": "token",
    "quota": "group_name",
}
# MLflow fields (path, query or body) and the kind of id each holds.
MLFLOW_ID_FIELDS = {
    "experiment_id": "experiment",
    "experiment_ids": "experiment",
    "run_id": "run",
    "run_uuid": "run",
    "run_ids": "run",
    "source_run_id": "run",
    "model_id": "logged_model",
    "name": "registered_model_name",
}


def _mlflow_body(ids: dict[str, Any]) -> dict[str, Any]:
    """One body with every field the MLflow routes read, valid with one group's ids."""
    return {
        "experiment_id": ids["experiment"],
        "experiment_ids": [ids["experiment"]],
        "run_id": ids["run"],
        "run_ids": [ids["run"]],
        "model_id": ids["logged_model"],
        "source_run_id": ids["run"],
        "name": ids["registered_model_name"],
        "version": "1",
        "key": "k",
        "value": "v",
        "metric_key": "k",
        "timestamp": 1,
        "step": 0,
        "status": "FINISHED",
        "stage": "Staging",
        "alias": "champion",
        "description": "d",
        "metrics": [{"key": "k", "value": 1.0, "timestamp": 2, "step": 0, "model_id": ids["logged_model"]}],
        "tags": [{"key": "mlflow.parentRunId", "value": ids["run"]}],
        "models": [{"model_id": ids["logged_model"], "step": 0}],
        "source": f"runs:/{ids['run']}/m",
    }


# Substitutions inside the MLflow body: field -> (kind, how to put an id in)
def _mlflow_substitutions() -> dict[str, tuple[str, Callable[[dict[str, Any], Any], None]]]:
    def put(field: str) -> Callable[[dict[str, Any], Any], None]:
        return lambda body, value: body.__setitem__(field, value)

    def in_list(field: str) -> Callable[[dict[str, Any], Any], None]:
        return lambda body, value: body.__setitem__(field, [value])

    return {
        "experiment_id": ("experiment", put("experiment_id")),
        "experiment_ids": ("experiment", in_list("experiment_ids")),
        "run_id": ("run", put("run_id")),
        "run_ids": ("run", in_list("run_ids")),
        "model_id": ("logged_model", put("model_id")),
        "source_run_id": ("run", put("source_run_id")),
        "name": ("registered_model_name", put("name")),
        "metrics[].model_id": ("logged_model", lambda b, v: b["metrics"][0].__setitem__("model_id", v)),
        "tags[mlflow.parentRunId]": ("run", lambda b, v: b["tags"][0].__setitem__("value", v)),
        "models[].model_id": ("logged_model", lambda b, v: b["models"][0].__setitem__("model_id", v)),
        "source": ("run", lambda b, v: b.__setitem__("source", f"runs:/{v}/m")),
    }


@dataclass
class Case:
    method: str
    path: str
    field: str
    build: Callable[[Any], tuple[str, dict[str, Any], dict[str, Any] | None]]  # id -> (url, query, body)
    kind: str


def _routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    for context in iter_route_contexts(app.routes):
        path, methods = context.path, getattr(context.original_route, "methods", None)
        if not path or not methods or path.startswith(SKIP_PREFIXES):
            continue
        if is_ui_path(path):  # the web UI: a session cookie, not a header; tests/ui walk its pages
            continue
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            yield method, path


def _fill(path: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value)).replace("{" + name + ":path}", str(value))
    return path


def _resource_body(
    info: dict[str, Any], form: str, ids: dict[str, Any], tag: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """A valid add/edit body from a resource's _info form, and which fields hold ids (field -> kind)."""
    body: dict[str, Any] = {}
    id_fields: dict[str, str] = {}
    for field in info.get(form, []):
        name, relation = field["name"], field.get("relation")
        if relation:
            kind = RESOURCE_KIND.get(relation, relation)
            body[name] = ids[kind]
            id_fields[name] = kind
        elif field.get("type") == "integer":
            body[name] = 1
        elif field.get("type") == "boolean":
            body[name] = False
        elif field.get("type") == "enum" and field.get("values"):
            first = field["values"][0]
            body[name] = first["id"] if isinstance(first, dict) else first
        elif field.get("type") == "json":
            continue
        elif field.get("required"):
            body[name] = f"{name.replace('_', '-')}-{tag}"
    return body, id_fields


def _cases(app: FastAPI, http: TestClient, own: dict[str, Any], who: UserCreds) -> list[Case]:  # noqa: PLR0912
    cases: list[Case] = []
    infos: dict[str, Any] = {}
    for method, path in _routes(app):
        params = [p.strip("{}").split(":")[0] for p in path.split("/") if p.startswith("{")]
        resource = path.split("/")[1]
        on_resource_api = path.startswith(f"/{resource}/api")
        if on_resource_api and resource not in infos:
            infos[resource] = http.get(f"/{resource}/api/_info", headers=who.headers).json().get("result", {})
        key_kind = RESOURCE_KIND.get(resource, "run") if on_resource_api else None
        path_kinds = {
            "key": key_kind,
            "group": "group_name",
            "model_id": "logged_model",
            "token_id": "deployment_token",
        }
        own_path = {p: own[path_kinds[p]] for p in params if path_kinds.get(p)}
        own_path.update({p: "x" for p in params if p not in own_path})  # action names, tag keys, file paths
        if path.endswith("/action/{action}/{key}"):
            own_path["action"] = "restore" if resource in ("experiment", "run") else "delete"
        if path.endswith("/multi_action/{action}"):
            own_path["action"] = "restore" if resource in ("experiment", "run") else "delete"
        if "/artifacts/{path:path}" in path or path.endswith("mlflow-artifacts/artifacts"):
            own_path["path"] = f"{own['experiment']}/{own['run']}/artifacts/f.txt"
        if on_resource_api:
            form = "add_columns" if method == "POST" and path.endswith("/api/") else "edit_columns"
            body, body_ids = _resource_body(infos[resource], form, own, "b2")
            if path.endswith("/multi_action/{action}"):
                body, body_ids = {"ids": [own[key_kind or "run"]]}, {}
            if resource == "deployment":
                body, body_ids = _deployment_body(method, path, own)
            query: dict[str, Any] = {}
            query_ids: dict[str, str] = {}
        else:
            body = _mlflow_body(own) if method in ("POST", "PATCH", "DELETE", "PUT") else None  # type: ignore[assignment]
            body_ids = {}
            query = {
                k: (v if not isinstance(v, list) else v[0])
                for k, v in _mlflow_body(own).items()
                if not isinstance(v, list | dict)
            }
            query["run_ids"] = own["run"]
            query["experiment_name"] = f"exp-{who.username}"
            query_ids = {k: MLFLOW_ID_FIELDS[k] for k in query if k in MLFLOW_ID_FIELDS}
            if method != "GET":
                query, query_ids = {}, {}
            if "mlflow-artifacts" in path:
                query = {"path": own_path.get("path", f"{own['experiment']}/{own['run']}/artifacts")}
                body = None  # type: ignore[assignment]
        for p in params:
            kind = path_kinds.get(p)
            if kind is None and "artifacts" in path and p == "path":
                kind = "experiment"
            if kind is None:
                continue

            def build(
                value: Any,
                p: str = p,
                body: Any = body,
                query: Any = query,
                path: str = path,
                own_path: Any = own_path,
            ) -> tuple[str, dict[str, Any], Any]:
                values = dict(own_path)
                if p == "path":
                    values[p] = f"{value}/{own['run']}/artifacts/f.txt"
                else:
                    values[p] = value
                return _fill(path, values), dict(query), _copy(body)

            cases.append(Case(method, path, f"path:{p}", build, kind))
        for field, kind in query_ids.items():

            def build_q(
                value: Any,
                field: str = field,
                body: Any = body,
                query: Any = query,
                path: str = path,
                own_path: Any = own_path,
            ) -> tuple[str, dict[str, Any], Any]:
                return _fill(path, own_path), {**query, field: value}, _copy(body)

            cases.append(Case(method, path, f"query:{field}", build_q, kind))
        substitutions: dict[str, tuple[str, Callable[[dict[str, Any], Any], None]]]
        if on_resource_api:
            substitutions = {f: (k, _setter(f)) for f, k in body_ids.items()}
        elif body is not None and "mlflow-artifacts" not in path:
            substitutions = _mlflow_substitutions()
        else:
            substitutions = {}
        for field, (kind, setter) in substitutions.items():

            def build_b(
                value: Any,
                setter: Any = setter,
                body: Any = body,
                query: Any = query,
                path: str = path,
                own_path: Any = own_path,
            ) -> tuple[str, dict[str, Any], Any]:
                changed = _copy(body)
                setter(changed, value)
                return _fill(path, own_path), dict(query), changed

            cases.append(Case(method, path, f"body:{field}", build_b, kind))
    return cases


def _setter(field: str) -> Callable[[dict[str, Any], Any], None]:
    return lambda body, value: body.__setitem__(field, value)


def _copy(body: Any) -> Any:
    return copy.deepcopy(body)


def _deployment_body(method: str, path: str, own: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    if path.endswith("/deploy"):
        return {"model": f"models:/{own['registered_model_name']}/1", "name": "dep-new"}, {}
    if path.endswith("/scale"):
        return {"replicas": 1}, {}
    if path.endswith("/promote"):
        return {"name": "dep-prod"}, {}
    if path.endswith("/tokens"):
        return {"name": "t2"}, {}
    if path.endswith("/rollback"):
        return {"to": 1}, {}
    if method == "POST" and path.endswith("/api/"):
        return {"name": "dep-new", "predictors": [{"model": f"models:/{own['registered_model_name']}/1"}]}, {}
    if method == "PUT":
        return {"description": "changed"}, {}
    return {}, {}


def _counts(services: Services) -> dict[str, int]:
    with services.db.read() as s:
        return {
            t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
            if t.name not in UNCOUNTED
        }


def _comparable(response: Any, value: Any) -> tuple[int, str]:
    """The status and, for a refusal, the body with the id taken out (two successes differ in the ids and
    times of what they made: their statuses are compared)."""
    if response.status_code < 400:
        return response.status_code, ""
    return response.status_code, re.sub(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", "<id>", response.text)


# Names are global, as in MLflow: creating a model or an experiment under a name another group holds is
# refused whoever holds it (documented in docs/security.md); these are not references.
GLOBAL_NAMES = ("/registered-models/create body:name", "/experiments/create body:name")


class Snapshot:
    """The SQLite database as it was before the walk, put back before each request, so that every request
    meets the same state (a request that deletes must not change what the next one sees)."""

    def __init__(self, url: str) -> None:
        self.path = url.removeprefix("sqlite:///")
        self.saved = sqlite3.connect(":memory:")
        with sqlite3.connect(self.path) as live:
            live.backup(self.saved)

    def restore(self) -> None:
        live = sqlite3.connect(self.path, timeout=30)
        try:
            self.saved.backup(live)
        finally:
            live.close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The audit trail's summaries (metric points, uploads) are written every audit interval: a walk
    longer than one interval (a loaded machine) would see that write land during some refused request."""
    return settings.model_copy(update={"audit_interval_s": 24 * 3600.0})


def test_an_outsider_gets_exactly_what_a_missing_id_gives_on_every_route(
    app: FastAPI, http: TestClient, services: Services, make_user: Callable[..., UserCreds]
) -> None:
    if not services.settings.database_url.startswith("sqlite"):
        pytest.skip("the walk restores a SQLite snapshot between requests; access checks are the same SQL")
    alice, bob = make_user("alice", group="team-a"), make_user("bob", group="team-b")
    a = _make_world(http, services, alice, "a")
    b = _make_world(http, services, bob, "b")
    cases = _cases(app, http, b.ids, bob)
    assert len({(c.method, c.path) for c in cases}) > 80  # the walk found the routes
    snapshot = Snapshot(services.settings.database_url)
    before = _counts(services)
    failures = []
    for case in cases:
        where = f"{case.method} {case.path} {case.field}"
        if any(where.endswith(name) for name in GLOBAL_NAMES):
            continue
        hidden, missing = a.ids[case.kind], MISSING[case.kind]
        snapshot.restore()
        url, query, body = case.build(hidden)
        seen = http.request(case.method, url, params=query, json=body, headers=bob.headers)
        after_seen = _counts(services)
        snapshot.restore()
        url, query, body = case.build(missing)
        absent = http.request(case.method, url, params=query, json=body, headers=bob.headers)
        if _comparable(seen, hidden) != _comparable(absent, missing):
            failures.append(
                f"{where}: outsider {seen.status_code} {seen.text[:200]} / missing {absent.status_code} {absent.text[:200]}"
            )
        elif seen.status_code >= 400 and after_seen != before:
            changed = {k: (before[k], after_seen[k]) for k in before if before[k] != after_seen[k]}
            failures.append(f"{where}: refused, but wrote {changed}")
        if seen.status_code == 500 or absent.status_code == 500:
            failures.append(f"{where}: a server error")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:60])
