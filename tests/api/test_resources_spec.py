"""Declaring resources: a new resource gets the whole generic API from its declaration alone, and a
wrong declaration fails when it is built, not on a user's request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelyard.api.auth import AuthMiddleware
from modelyard.api.errors import install_error_handlers
from modelyard.api.resources.routes import build_router
from modelyard.domain.identity import Principal
from modelyard.domain.tracking import LoggedModelStatus
from modelyard.services import Services
from modelyard.services.resources import (
    Action,
    Column,
    ColumnType,
    Endpoint,
    Field,
    FieldType,
    GroupPath,
    GroupScoped,
    Hop,
    OneToMany,
    Op,
    ResourceRegistry,
    ResourceSpec,
)
from modelyard.services.resources.identity import IDENTITY_RESOURCES
from modelyard.services.resources.tracking import EXPERIMENT, PROJECT
from modelyard.storage.orm import ExperimentRow, ExperimentTagRow, LoggedModelRow, ProjectRow
from tests.conftest import UserCreds, auth_header


def _create_model(svc: Services, actor: Principal, values: dict[str, Any]) -> str:
    created = svc.logged_models.create(actor, experiment_id=values["experiment_id"], name=values["name"])
    return created.model_id


def _mark_ready(svc: Services, actor: Principal, key: Any) -> None:
    svc.logged_models.finalize(actor, key, LoggedModelStatus.READY.value)


def _who(svc: Services, actor: Principal) -> str:
    return actor.username


# Logged models are not declared by modelyard yet: this declaration alone must give them the whole API.
MODELS = ResourceSpec(
    name="logged_model",
    label="Logged models",
    row=LoggedModelRow,
    primary_key="model_id",
    title_column="name",
    columns=(
        Column("model_id", "Id"),
        Column("name", "Name"),
        Column("status", "Status", ColumnType.ENUM, values=tuple(s.value for s in LoggedModelStatus)),
        Column("experiment_id", "Experiment", ColumnType.INTEGER, relation=OneToMany("experiment")),
    ),
    order_column="name",
    order_direction="asc",
    add_fields=(
        Field("name", "Name", required=True),
        Field("experiment_id", "Experiment", FieldType.INTEGER, required=True, relation="experiment"),
    ),
    create=_create_model,
    actions=(Action("ready", "Mark ready", _mark_ready, single=False),),
    endpoints=(Endpoint("whoami", "Who asks.", _who),),
    access=GroupScoped(
        GroupPath(
            ProjectRow.group_id,
            (
                Hop(LoggedModelRow.experiment_id, ExperimentRow.experiment_id),
                Hop(ExperimentRow.project_id, ProjectRow.id),
            ),
        )
    ),
    page_size=2,
    max_page_size=3,
)


@pytest.fixture
def models_app(services: Services) -> FastAPI:
    registry = ResourceRegistry((PROJECT, EXPERIMENT, MODELS, *IDENTITY_RESOURCES))
    app = FastAPI()
    app.state.services = services
    install_error_handlers(app)
    app.include_router(build_router(MODELS, registry), prefix="/logged_model/api")
    app.add_middleware(AuthMiddleware, services=services)
    return app


@pytest.fixture
def models_http(models_app: FastAPI, admin_token: str) -> Iterator[TestClient]:
    with TestClient(models_app, raise_server_exceptions=False, headers=auth_header(admin_token)) as client:
        yield client


def test_a_new_declaration_gets_the_generic_api(
    models_http: TestClient, services: Services, admin: Principal
) -> None:
    eid = int(services.experiments.create_experiment(admin, name="models"))
    info = models_http.get("/logged_model/api/_info").json()["result"]
    assert info["permissions"] == ["can_list", "can_show", "can_add", "can_action_ready"]
    experiment_field = info["add_columns"][1]
    assert {"id": eid, "value": "models"} in experiment_field["values"]

    ids = []
    for name in ("b_model", "a_model", "c%model", "bx"):
        r = models_http.post("/logged_model/api/", json={"name": name, "experiment_id": eid})
        assert r.status_code == 201, r.text
        ids.append(r.json()["result"]["model_id"])
    page = models_http.get("/logged_model/api/").json()["result"]
    assert [m["name"] for m in page["data"]] == ["a_model", "b_model"] and page["count"] == 4
    assert set(page["data"][0]) == {"model_id", "name", "status", "experiment_id"}
    r = models_http.get(
        "/logged_model/api/", params={"filters": '[{"col": "name", "opr": "sw", "value": "b_"}]'}
    )
    assert [m["name"] for m in r.json()["result"]["data"]] == ["b_model"]
    r = models_http.get("/logged_model/api/", params={"page_size": "4"})
    assert r.status_code == 400 and "between 1 and 3" in r.json()["message"]

    r = models_http.post("/logged_model/api/multi_action/ready", json={"ids": ids[:2]})
    assert r.status_code == 200 and r.json()["result"]["count"] == 2
    assert [services.logged_models.get(admin, i).status for i in ids] == ["LOGGED_MODEL_READY"] * 2 + [
        "LOGGED_MODEL_PENDING"
    ] * 2
    r = models_http.get(f"/logged_model/api/action/ready/{ids[2]}")
    assert r.status_code == 400 and "multi_action/ready" in r.json()["message"]
    assert models_http.put(f"/logged_model/api/{ids[0]}", json={"name": "x"}).status_code == 405
    assert models_http.delete(f"/logged_model/api/{ids[0]}").status_code == 405
    assert models_http.get("/logged_model/api/whoami").json()["result"] == "admin"


def test_a_new_declaration_gets_the_access_policy(
    models_app: FastAPI, services: Services, admin: Principal, make_user: Callable[..., UserCreds]
) -> None:
    eid = int(services.experiments.create_experiment(admin, name="models"))
    model_id = services.logged_models.create(admin, experiment_id=eid, name="m").model_id
    outsider = make_user("outsider", group="elsewhere")
    viewer = make_user("viewer", group="default", role="viewer")
    with TestClient(models_app, raise_server_exceptions=False, headers=outsider.headers) as http:
        assert http.get("/logged_model/api/").json()["result"] == {"data": [], "count": 0}
        assert http.get(f"/logged_model/api/{model_id}").status_code == 404
        assert http.post("/logged_model/api/multi_action/ready", json={"ids": [model_id]}).status_code == 404
        assert http.get("/logged_model/api/whoami").json()["result"] == "outsider"
    with TestClient(models_app, raise_server_exceptions=False, headers=viewer.headers) as http:
        assert http.get("/logged_model/api/").json()["result"]["count"] == 1
        assert http.get("/logged_model/api/_info").json()["result"]["permissions"] == ["can_list", "can_show"]
        r = http.post("/logged_model/api/multi_action/ready", json={"ids": [model_id]})
        assert r.status_code == 403 and "'member' role" in r.json()["message"], r.text
        r = http.post("/logged_model/api/", json={"name": "n", "experiment_id": eid})
        assert r.status_code == 403 and "'member' role" in r.json()["message"], r.text
    assert services.logged_models.get(admin, model_id).status == "LOGGED_MODEL_PENDING"


def _spec(**changes: Any) -> ResourceSpec:
    base: dict[str, Any] = {
        "name": "model",
        "label": "Models",
        "row": LoggedModelRow,
        "primary_key": "model_id",
        "columns": (Column("model_id", "Id"), Column("name", "Name")),
        "order_column": "name",
    }
    return ResourceSpec(**{**base, **changes})


def _with(column: Column) -> dict[str, Any]:
    return {"columns": (Column("model_id", "Id"), column), "order_column": "model_id"}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"primary_key": "name"}, "the row's primary key is ['model_id']"),
        ({"row": ExperimentTagRow, "columns": (Column("key", "Key"),), "primary_key": "key", "order_column": "key"},
         "['experiment_id', 'key']"),
        ({"order_column": "nope"}, "'nope' is not a declared column"),
        (_with(Column("nope", "Nope")), "has no column 'nope'"),
        (_with(Column("name", "V", ColumnType.INTEGER, ops=(Op.SW,))), "['sw']"),
        (_with(Column("name", "V", ops=(Op.REL_O_M,))), "['rel_o_m']"),
        (_with(Column("name", "V", ColumnType.ENUM)), "needs its values"),
        (_with(Column("name", "V", ColumnType.JSON)), "JSON columns cannot be ordered"),
        (_with(Column("name", "V", ColumnType.RELATION)), "goes with a ManyToMany"),
        ({"add_fields": (Field("name", "Name"),)}, "without the hook"),
        ({"create": _create_model}, "needs its form fields"),
        ({"page_size": 2000}, "page_size"),
        ({"order_direction": "up"}, "order_direction"),
        ({"actions": (Action("a", "A", _mark_ready), Action("a", "A", _mark_ready))}, "action names repeat"),
    ],
)  # fmt: skip
def test_wrong_declarations_fail_when_built(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match="resource 'model'") as caught:
        _spec(**changes)
    assert words in str(caught.value)


def test_relations_must_point_at_declared_resources() -> None:
    with pytest.raises(ValueError, match="undeclared resource 'experiment'"):
        ResourceRegistry((MODELS,))
    with pytest.raises(ValueError, match="declared twice"):
        ResourceRegistry((PROJECT, PROJECT))
