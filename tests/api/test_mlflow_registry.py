"""The MLflow model registry REST API: shapes, rules, search, stages, aliases, access and audit."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.storage.orm import (
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelAliasRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
)
from tests.conftest import UserCreds

API = "/api/2.0/mlflow"
SYSTEM = Principal.system()
PROMPT_CLAUSE = "tag.`mlflow.prompt.is_prompt` != 'true'"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry timestamps from a counter (1000, 1001, ...): exact values, and orderings by time
    that do not depend on two requests landing in different milliseconds."""
    ticks = itertools.count(1000)
    for module in ("modelyard.services.registry.service", "modelyard.services.registry.versions"):
        monkeypatch.setattr(f"{module}.now_ms", lambda: next(ticks))


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


def _run(http: TestClient, experiment: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A run (in a new experiment) to register models from; returns its info."""
    eid = _ok(http.post(f"{API}/experiments/create", json={"name": experiment}, headers=headers))[
        "experiment_id"
    ]
    run = _ok(http.post(f"{API}/runs/create", json={"experiment_id": eid}, headers=headers))
    info: dict[str, Any] = run["run"]["info"]
    return info


def _create(
    http: TestClient, name: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    model: dict[str, Any] = _ok(
        http.post(f"{API}/registered-models/create", json={"name": name, **extra}, headers=headers)
    )["registered_model"]
    return model


def _version(
    http: TestClient, name: str, source: str, headers: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    response = http.post(
        f"{API}/model-versions/create", json={"name": name, "source": source, **extra}, headers=headers
    )
    version: dict[str, Any] = _ok(response)["model_version"]
    return version


def _search(http: TestClient, what: str, **params: Any) -> dict[str, Any]:
    return _ok(http.get(f"{API}/{what}/search", params=params))


def _names(body: dict[str, Any]) -> list[str]:
    return [m["name"] for m in body.get("registered_models", [])]


def _versions(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["name"], v["version"]) for v in body.get("model_versions", [])]


def _events(services: Services, resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    events, _ = services.audit.query(SYSTEM, resource_type=resource_type, limit=1000)
    return [(str(e.resource_name), e.action, e.changes) for e in reversed(events)]


# ---- registered models ------------------------------------------------------------------------


def test_registered_model_create_get_update_rename_delete(http: TestClient, services: Services) -> None:
    created = _create(http, "iris", description="flowers", tags=[{"key": "team", "value": "ml"}])
    assert created == {
        "name": "iris",
        "creation_timestamp": 1000,
        "last_updated_timestamp": 1000,
        "user_id": "admin",
        "description": "flowers",
        "tags": [{"key": "team", "value": "ml"}],
    }
    got = _ok(http.get(f"{API}/registered-models/get", params={"name": "iris"}))["registered_model"]
    assert got == created

    updated = _ok(http.patch(f"{API}/registered-models/update", json={"name": "iris", "description": "v2"}))
    assert updated["registered_model"]["description"] == "v2"
    assert (
        updated["registered_model"]["creation_timestamp"],
        updated["registered_model"]["last_updated_timestamp"],
    ) == (1000, 1001)

    message = _error(
        http.post(f"{API}/registered-models/create", json={"name": "iris"}), 400, "RESOURCE_ALREADY_EXISTS"
    )
    assert message == "Registered Model (name=iris) already exists."

    _create(http, "taken")
    _error(
        http.post(f"{API}/registered-models/rename", json={"name": "iris", "new_name": "taken"}),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    renamed = _ok(http.post(f"{API}/registered-models/rename", json={"name": "iris", "new_name": "iris-2"}))
    assert renamed["registered_model"]["name"] == "iris-2"
    assert renamed["registered_model"]["tags"] == [{"key": "team", "value": "ml"}]
    message = _error(
        http.get(f"{API}/registered-models/get", params={"name": "iris"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert message == "Registered Model with name=iris not found"

    _ok(http.request("DELETE", f"{API}/registered-models/delete", json={"name": "iris-2"}))
    _error(
        http.get(f"{API}/registered-models/get", params={"name": "iris-2"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    # DELETE also takes its parameters in the query string
    _ok(http.delete(f"{API}/registered-models/delete", params={"name": "taken"}))
    assert _search(http, "registered-models") == {}

    assert [(rid, action) for rid, action, _ in _events(services, "registered_model")] == [
        ("iris", "create"),
        ("iris", "update"),
        ("taken", "create"),
        ("iris", "rename"),
        ("iris-2", "delete"),
        ("taken", "delete"),
    ]


def test_registered_model_tags(http: TestClient, services: Services) -> None:
    _create(http, "m")
    _ok(http.post(f"{API}/registered-models/set-tag", json={"name": "m", "key": "team", "value": "a"}))
    _ok(http.post(f"{API}/registered-models/set-tag", json={"name": "m", "key": "team", "value": "b"}))
    _ok(http.post(f"{API}/registered-models/set-tag", json={"name": "m", "key": "note", "value": "x"}))
    _ok(http.request("DELETE", f"{API}/registered-models/delete-tag", json={"name": "m", "key": "note"}))
    # deleting a tag that is not set is a no-op, as in MLflow
    _ok(http.request("DELETE", f"{API}/registered-models/delete-tag", json={"name": "m", "key": "absent"}))
    got = _ok(http.get(f"{API}/registered-models/get", params={"name": "m"}))["registered_model"]
    assert got["tags"] == [{"key": "team", "value": "b"}]
    _error(
        http.post(f"{API}/registered-models/set-tag", json={"name": "m", "key": "../x", "value": "1"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    changes = [(a, c) for _, a, c in _events(services, "registered_model") if a != "create"]
    assert changes == [
        ("set_tag", {"before": {"tags.team": None}, "after": {"tags.team": "a"}}),
        ("set_tag", {"before": {"tags.team": "a"}, "after": {"tags.team": "b"}}),
        ("set_tag", {"before": {"tags.note": None}, "after": {"tags.note": "x"}}),
        ("delete_tag", {"before": {"tags.note": "x"}, "after": {"tags.note": None}}),
    ]


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("", "Missing value for required parameter 'name'"),
        ("a/b", "cannot contain '/' or ':'"),
        ("x" * 257, "limit is 256"),
    ],
)
def test_bad_model_names(http: TestClient, name: str, needle: str) -> None:
    message = _error(
        http.post(f"{API}/registered-models/create", json={"name": name}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert needle in message


# ---- versions -----------------------------------------------------------------------------------


def test_versions_from_runs_logged_models_and_other_versions(http: TestClient) -> None:
    run = _run(http, "exp")
    model = _ok(
        http.post(
            f"{API}/logged-models",
            json={"experiment_id": run["experiment_id"], "name": "model", "source_run_id": run["run_id"]},
        )
    )["model"]["info"]
    _create(http, "iris")

    from_run = _version(
        http, "iris", f"runs:/{run['run_id']}/model", description="first", run_link="http://x"
    )
    assert from_run == {
        "name": "iris",
        "version": "1",
        "creation_timestamp": 1001,
        "last_updated_timestamp": 1001,
        "current_stage": "None",
        "source": f"runs:/{run['run_id']}/model",
        "status": "READY",
        "user_id": "admin",
        "description": "first",
        "run_id": run["run_id"],
        "run_link": "http://x",
    }
    from_logged = _version(
        http,
        "iris",
        f"models:/{model['model_id']}",
        model_id=model["model_id"],
        tags=[{"key": "k", "value": "v"}],
    )
    assert (from_logged["version"], from_logged["run_id"], from_logged["model_id"]) == (
        "2",
        run["run_id"],
        model["model_id"],
    )
    assert from_logged["tags"] == [{"key": "k", "value": "v"}]
    copied = _version(http, "iris", "models:/iris/2")
    assert (copied["version"], copied["run_id"], copied["model_id"]) == (
        "3",
        run["run_id"],
        model["model_id"],
    )
    proxied = _version(http, "iris", f"mlflow-artifacts:/{run['experiment_id']}/{run['run_id']}/artifacts/m")

    def uri(version: str) -> str:
        body = _ok(
            http.get(f"{API}/model-versions/get-download-uri", params={"name": "iris", "version": version})
        )
        return str(body["artifact_uri"])

    assert uri("1") == f"{run['artifact_uri']}/model"
    assert (
        uri("2")
        == model["artifact_uri"]
        == f"mlflow-artifacts:/{run['experiment_id']}/models/{model['model_id']}/artifacts"
    )
    assert uri("3") == model["artifact_uri"]
    assert uri(proxied["version"]) == proxied["source"]

    got = _ok(http.get(f"{API}/model-versions/get", params={"name": "iris", "version": "2"}))["model_version"]
    assert got == from_logged
    latest = _ok(http.get(f"{API}/registered-models/get", params={"name": "iris"}))["registered_model"]
    assert [v["version"] for v in latest["latest_versions"]] == ["4"]
    assert (latest["creation_timestamp"], latest["last_updated_timestamp"]) == (1000, 1004)


def test_version_numbers_are_never_reused(http: TestClient) -> None:
    run = _run(http, "exp")
    _create(http, "m")
    for expected in ("1", "2", "3"):
        assert _version(http, "m", f"runs:/{run['run_id']}/model")["version"] == expected
    _ok(http.request("DELETE", f"{API}/model-versions/delete", json={"name": "m", "version": "3"}))
    assert _version(http, "m", f"runs:/{run['run_id']}/model")["version"] == "4"
    assert _versions(_search(http, "model-versions", filter="name = 'm'", order_by="version_number")) == [
        ("m", "1"),
        ("m", "2"),
        ("m", "4"),
    ]


def test_version_update_tags_and_delete(http: TestClient, services: Services) -> None:
    run = _run(http, "exp")
    _create(http, "m")
    _version(http, "m", f"runs:/{run['run_id']}/model")
    updated = _ok(
        http.patch(f"{API}/model-versions/update", json={"name": "m", "version": "1", "description": "d"})
    )
    assert updated["model_version"]["description"] == "d"
    _ok(
        http.post(
            f"{API}/model-versions/set-tag", json={"name": "m", "version": "1", "key": "a", "value": "1"}
        )
    )
    _ok(
        http.post(
            f"{API}/model-versions/set-tag", json={"name": "m", "version": "1", "key": "b", "value": "2"}
        )
    )
    _ok(http.delete(f"{API}/model-versions/delete-tag", params={"name": "m", "version": "1", "key": "b"}))
    got = _ok(http.get(f"{API}/model-versions/get", params={"name": "m", "version": 1}))["model_version"]
    assert got["tags"] == [{"key": "a", "value": "1"}]
    _ok(http.request("DELETE", f"{API}/model-versions/delete", json={"name": "m", "version": "1"}))
    _error(
        http.get(f"{API}/model-versions/get", params={"name": "m", "version": "1"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert [(rid, a) for rid, a, _ in _events(services, "model_version")] == [
        ("m/1", "create"),
        ("m/1", "update"),
        ("m/1", "set_tag"),
        ("m/1", "set_tag"),
        ("m/1", "delete_tag"),
        ("m/1", "delete"),
    ]
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ModelVersionTagRow)) == 0


def test_version_bad_input(http: TestClient) -> None:
    run = _run(http, "exp")
    source = f"runs:/{run['run_id']}/model"
    message = _error(
        http.post(f"{API}/model-versions/create", json={"name": "missing", "source": source}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert message == "Registered Model with name=missing not found"
    _create(http, "m")
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        (
            {"source": "runs:/no-such-run/model"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "Run with id=no-such-run not found",
        ),
        (
            {"source": "models:/m-nope"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "Logged model with ID 'm-nope' not found.",
        ),
        (
            {"source": "models:/m/7"},
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "Model Version (name=m, version=7) not found",
        ),
        ({"source": source, "run_id": "nope"}, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found"),
        ({"source": "mlflow-artifacts:/999/x"}, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=999"),
        ({"source": "models:/a/b/c"}, 400, "INVALID_PARAMETER_VALUE", "Invalid source 'models:/a/b/c'"),
        ({}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'source'."),
    ]
    for extra, status, code, needle in cases:
        response = http.post(f"{API}/model-versions/create", json={"name": "m", **extra})
        assert needle in _error(response, status, code), extra
    _error(
        http.get(f"{API}/model-versions/get", params={"name": "m", "version": "one"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        http.get(f"{API}/model-versions/get", params={"name": "m", "version": "1"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _error(http.get(f"{API}/model-versions/get", params={"name": "m"}), 400, "INVALID_PARAMETER_VALUE")


def test_source_outside_the_artifact_store_needs_a_platform_admin(
    http: TestClient, make_user: Callable[..., UserCreds]
) -> None:
    alice = make_user("alice", group="vision")
    _create(http, "shared", group="vision")
    message = _error(
        http.post(
            f"{API}/model-versions/create", json={"name": "shared", "source": "/etc"}, headers=alice.headers
        ),
        403,
        "PERMISSION_DENIED",
    )
    assert "needs a platform admin" in message
    assert _version(http, "shared", "s3://bucket/model")["source"] == "s3://bucket/model"


# ---- stages and latest versions ---------------------------------------------------------------


def test_transition_stage_and_latest_versions(http: TestClient, services: Services) -> None:
    run = _run(http, "exp")
    _create(http, "m")
    for _ in range(4):
        _version(http, "m", f"runs:/{run['run_id']}/model")

    def transition(version: str, stage: str, archive: bool = False) -> dict[str, Any]:
        body = {"name": "m", "version": version, "stage": stage, "archive_existing_versions": archive}
        out: dict[str, Any] = _ok(http.post(f"{API}/model-versions/transition-stage", json=body))[
            "model_version"
        ]
        return out

    assert transition("1", "production")["current_stage"] == "Production"
    assert transition("2", "Production")["current_stage"] == "Production"
    assert transition("3", "STAGING")["current_stage"] == "Staging"
    moved = transition("4", "Production", archive=True)
    assert moved["current_stage"] == "Production"

    stages = _versions(_search(http, "model-versions", filter="name = 'm'", order_by="version_number"))
    assert stages == [("m", "1"), ("m", "2"), ("m", "3"), ("m", "4")]
    current = {
        v["version"]: v["current_stage"]
        for v in _search(http, "model-versions", filter="name = 'm'")["model_versions"]
    }
    assert current == {"1": "Archived", "2": "Archived", "3": "Staging", "4": "Production"}

    latest_post = _ok(
        http.post(
            f"{API}/registered-models/get-latest-versions",
            json={"name": "m", "stages": ["production", "Staging"]},
        )
    )
    assert [(v["version"], v["current_stage"]) for v in latest_post["model_versions"]] == [
        ("3", "Staging"),
        ("4", "Production"),
    ]
    latest_get = _ok(
        http.get(
            f"{API}/registered-models/get-latest-versions", params=[("name", "m"), ("stages", "Archived")]
        )
    )
    assert [(v["version"], v["current_stage"]) for v in latest_get["model_versions"]] == [("2", "Archived")]
    every = _ok(http.get(f"{API}/registered-models/get-latest-versions", params={"name": "m"}))
    assert [v["version"] for v in every["model_versions"]] == ["2", "3", "4"]
    assert (
        _ok(http.post(f"{API}/registered-models/get-latest-versions", json={"name": "m", "stages": ["None"]}))
        == {}
    )

    message = _error(
        http.post(
            f"{API}/model-versions/transition-stage", json={"name": "m", "version": "1", "stage": "Prod"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert (
        message
        == "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived."
    )
    message = _error(
        http.post(
            f"{API}/model-versions/transition-stage",
            json={"name": "m", "version": "1", "stage": "Archived", "archive_existing_versions": True},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "not an Active stage" in message
    _error(
        http.post(f"{API}/registered-models/get-latest-versions", json={"name": "m", "stages": ["nope"]}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    archived = [
        (rid, c)
        for rid, a, c in _events(services, "model_version")
        if a == "transition_stage" and c["after"] == {"current_stage": "Archived"}
    ]
    assert archived == [
        (
            "m/1",
            {
                "before": {"current_stage": "Production"},
                "after": {"current_stage": "Archived"},
                "details": {"archived_by_transition_of": 4},
            },
        ),
        (
            "m/2",
            {
                "before": {"current_stage": "Production"},
                "after": {"current_stage": "Archived"},
                "details": {"archived_by_transition_of": 4},
            },
        ),
    ]


# ---- aliases ------------------------------------------------------------------------------------


def test_aliases_move_and_are_audited(http: TestClient, services: Services) -> None:
    run = _run(http, "exp")
    _create(http, "m")
    _version(http, "m", f"runs:/{run['run_id']}/model")
    _version(http, "m", f"runs:/{run['run_id']}/model")

    def set_alias(alias: str, version: str) -> Any:
        return http.post(
            f"{API}/registered-models/alias", json={"name": "m", "alias": alias, "version": version}
        )

    _ok(set_alias("champion", "1"))
    _ok(set_alias("challenger", "2"))
    by_alias = _ok(http.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "champion"}))
    assert (by_alias["model_version"]["version"], by_alias["model_version"]["aliases"]) == ("1", ["champion"])
    _ok(set_alias("champion", "2"))
    model = _ok(http.get(f"{API}/registered-models/get", params={"name": "m"}))["registered_model"]
    assert model["aliases"] == [
        {"alias": "challenger", "version": "2"},
        {"alias": "champion", "version": "2"},
    ]
    v2 = _ok(http.get(f"{API}/model-versions/get", params={"name": "m", "version": "2"}))["model_version"]
    assert v2["aliases"] == ["challenger", "champion"]

    _ok(http.request("DELETE", f"{API}/registered-models/alias", json={"name": "m", "alias": "challenger"}))
    _ok(http.delete(f"{API}/registered-models/alias", params={"name": "m", "alias": "challenger"}))  # no-op
    message = _error(
        http.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "challenger"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert message == "Registered model alias challenger not found."

    alias_events = [(a, c) for _, a, c in _events(services, "registered_model") if "alias" in a]
    assert alias_events == [
        ("set_alias", {"before": {"aliases.champion": None}, "after": {"aliases.champion": 1}}),
        ("set_alias", {"before": {"aliases.challenger": None}, "after": {"aliases.challenger": 2}}),
        ("set_alias", {"before": {"aliases.champion": 1}, "after": {"aliases.champion": 2}}),
        ("delete_alias", {"before": {"aliases.challenger": 2}, "after": {"aliases.challenger": None}}),
    ]

    # deleting the version an alias names removes the alias
    _ok(http.request("DELETE", f"{API}/model-versions/delete", json={"name": "m", "version": "2"}))
    _error(
        http.get(f"{API}/registered-models/alias", params={"name": "m", "alias": "champion"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


@pytest.mark.parametrize(
    ("alias", "version", "status", "code", "needle"),
    [
        ("latest", "1", 400, "INVALID_PARAMETER_VALUE", "'latest' alias name (case insensitive) is reserved"),
        ("LATEST", "1", 400, "INVALID_PARAMETER_VALUE", "is reserved"),
        ("v3", "1", 400, "INVALID_PARAMETER_VALUE", "Version alias name 'v3' is reserved"),
        ("my alias", "1", 400, "INVALID_PARAMETER_VALUE", "Invalid alias name: 'my alias'"),
        ("", "1", 400, "INVALID_PARAMETER_VALUE", "cannot be empty"),
        ("ok", "9", 404, "RESOURCE_DOES_NOT_EXIST", "Model Version (name=m, version=9) not found"),
        ("ok", "x", 400, "INVALID_PARAMETER_VALUE", "must be an integer"),
    ],
)
def test_bad_aliases(http: TestClient, alias: str, version: str, status: int, code: str, needle: str) -> None:
    run = _run(http, "exp")
    _create(http, "m")
    _version(http, "m", f"runs:/{run['run_id']}/model")
    response = http.post(
        f"{API}/registered-models/alias", json={"name": "m", "alias": alias, "version": version}
    )
    assert needle in _error(response, status, code)


# ---- search -------------------------------------------------------------------------------------


def test_search_registered_models_filters_order_and_pages(http: TestClient) -> None:
    _create(http, "alpha", tags=[{"key": "team", "value": "vision"}])
    _create(http, "Beta", tags=[{"key": "team", "value": "speech"}])
    _create(http, "gamma")
    _create(http, "prompt", tags=[{"key": "mlflow.prompt.is_prompt", "value": "true"}])
    _create(http, "not-prompt", tags=[{"key": "mlflow.prompt.is_prompt", "value": "false"}])

    def names(filter_string: str | None = None, **params: Any) -> list[str]:
        if filter_string is not None:
            params["filter"] = filter_string
        return _names(_search(http, "registered-models", **params))

    assert names() == ["Beta", "alpha", "gamma", "not-prompt", "prompt"]
    # what the mlflow client sends for search_registered_models(): prompts are left out
    assert names(PROMPT_CLAUSE) == ["Beta", "alpha", "gamma", "not-prompt"]
    assert names(f"name = 'alpha' AND {PROMPT_CLAUSE}") == ["alpha"]
    assert names("tags.`mlflow.prompt.is_prompt` = 'false'") == ["Beta", "alpha", "gamma", "not-prompt"]
    assert names("name LIKE 'beta'") == []
    assert names("name ILIKE 'beta'") == ["Beta"]
    assert names("name LIKE '%a'") == ["Beta", "alpha", "gamma"]
    assert names("name != 'alpha' AND name LIKE '%a'") == ["Beta", "gamma"]
    assert names("name IN ('gamma', 'alpha')") == ["alpha", "gamma"]
    assert names("tags.team = 'vision'") == ["alpha"]
    assert names("tags.team != 'vision'") == ["Beta"]  # a model without the tag does not match
    assert names("tags.team LIKE '%i%'") == ["alpha"]
    assert names(order_by=["name DESC"]) == ["prompt", "not-prompt", "gamma", "alpha", "Beta"]
    assert names(order_by=["creation_timestamp DESC"]) == ["not-prompt", "prompt", "gamma", "Beta", "alpha"]

    first = _search(http, "registered-models", max_results=2)
    assert _names(first) == ["Beta", "alpha"]
    second = _search(http, "registered-models", max_results=2, page_token=first["next_page_token"])
    assert _names(second) == ["gamma", "not-prompt"]
    third = _search(http, "registered-models", max_results=2, page_token=second["next_page_token"])
    assert _names(third) == ["prompt"] and "next_page_token" not in third

    for params, needle in [
        ({"filter": "name = alpha"}, "expected a quoted string"),
        ({"filter": "run_id = 'x'"}, "invalid attribute key 'run_id'"),
        ({"filter": "name > 'a'"}, "comparator '>' cannot be used"),
        ({"order_by": "tags.team"}, "cannot be ordered by a tag"),
        ({"order_by": "version_number"}, "invalid attribute key 'version_number'"),
        ({"max_results": 1001}, "It must be between 1 and 1000"),
        ({"page_token": "garbage"}, "Invalid page token"),
    ]:
        message = _error(
            http.get(f"{API}/registered-models/search", params=params), 400, "INVALID_PARAMETER_VALUE"
        )
        assert needle in message, params


def test_search_model_versions(http: TestClient) -> None:
    run_a = _run(http, "exp-a")
    run_b = _run(http, "exp-b")
    _create(http, "m1")
    _create(http, "m2")
    _version(http, "m1", f"runs:/{run_a['run_id']}/model", tags=[{"key": "ok", "value": "yes"}])
    _version(http, "m1", f"runs:/{run_b['run_id']}/other")
    _version(http, "m2", f"runs:/{run_a['run_id']}/model")

    def found(filter_string: str | None = None, **params: Any) -> list[tuple[str, str]]:
        if filter_string is not None:
            params["filter"] = filter_string
        return _versions(_search(http, "model-versions", **params))

    # default order: last updated first
    assert found() == [("m2", "1"), ("m1", "2"), ("m1", "1")]
    assert found("name = 'm1'", order_by=["version_number ASC"]) == [("m1", "1"), ("m1", "2")]
    assert found("name = 'm1' AND version_number > 1") == [("m1", "2")]
    assert found(f"run_id = '{run_a['run_id']}'", order_by=["name"]) == [("m1", "1"), ("m2", "1")]
    assert found(f"run_id IN ('{run_b['run_id']}', 'x')") == [("m1", "2")]
    assert found("source_path LIKE '%/other'") == [("m1", "2")]
    assert found("tags.ok = 'yes'") == [("m1", "1")]
    assert found("name LIKE 'm%'", order_by=["name DESC", "version_number"]) == [
        ("m2", "1"),
        ("m1", "1"),
        ("m1", "2"),
    ]
    page = _search(http, "model-versions", max_results=2, order_by=["name", "version_number"])
    assert _versions(page) == [("m1", "1"), ("m1", "2")]
    rest = _search(
        http,
        "model-versions",
        max_results=2,
        order_by=["name", "version_number"],
        page_token=page["next_page_token"],
    )
    assert _versions(rest) == [("m2", "1")] and "next_page_token" not in rest
    assert found("name = 'nothing'") == []
    _error(
        http.get(f"{API}/model-versions/search", params={"filter": "version_number = 'x'"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        http.get(f"{API}/model-versions/search", params={"order_by": "run_id"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


# ---- access -------------------------------------------------------------------------------------


@pytest.fixture
def teams(make_user: Callable[..., UserCreds]) -> dict[str, UserCreds]:
    return {
        "alice": make_user("alice", group="vision"),
        "bob": make_user("bob", group="speech"),
        "victor": make_user("victor", group="vision", role="viewer"),
    }


def test_cross_group_isolation(http: TestClient, teams: dict[str, UserCreds], services: Services) -> None:
    alice, bob, victor = teams["alice"].headers, teams["bob"].headers, teams["victor"].headers
    alice_run = _run(http, "alice-exp", alice)
    bob_run = _run(http, "bob-exp", bob)
    _create(http, "vision-model", alice)
    _version(http, "vision-model", f"runs:/{alice_run['run_id']}/model", alice)
    _create(http, "speech-model", bob)
    with services.db.read() as s:
        groups = dict(s.execute(select(RegisteredModelRow.name, RegisteredModelRow.group_id)).all())
    assert groups["vision-model"] != groups["speech-model"]

    # bob cannot see, change or use alice's model, and it reads as missing
    not_found = "Registered Model with name=vision-model not found"
    assert (
        _error(
            http.get(f"{API}/registered-models/get", params={"name": "vision-model"}, headers=bob),
            404,
            "RESOURCE_DOES_NOT_EXIST",
        )
        == not_found
    )
    for response in [
        http.get(f"{API}/model-versions/get", params={"name": "vision-model", "version": "1"}, headers=bob),
        http.get(
            f"{API}/model-versions/get-download-uri",
            params={"name": "vision-model", "version": "1"},
            headers=bob,
        ),
        http.post(
            f"{API}/model-versions/create",
            json={"name": "vision-model", "source": f"runs:/{bob_run['run_id']}/m"},
            headers=bob,
        ),
        http.request("DELETE", f"{API}/registered-models/delete", json={"name": "vision-model"}, headers=bob),
        http.post(
            f"{API}/registered-models/alias",
            json={"name": "vision-model", "alias": "a", "version": "1"},
            headers=bob,
        ),
    ]:
        assert _error(response, 404, "RESOURCE_DOES_NOT_EXIST") == not_found
    assert _names(_ok(http.get(f"{API}/registered-models/search", headers=bob))) == ["speech-model"]
    assert _versions(_ok(http.get(f"{API}/model-versions/search", headers=bob))) == []
    # nor register alice's run into his own model
    message = _error(
        http.post(
            f"{API}/model-versions/create",
            json={"name": "speech-model", "source": f"runs:/{alice_run['run_id']}/model"},
            headers=bob,
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert message == f"Run with id={alice_run['run_id']} not found"
    message = _error(
        http.post(
            f"{API}/model-versions/create",
            json={"name": "speech-model", "source": f"mlflow-artifacts:/{alice_run['experiment_id']}/x"},
            headers=bob,
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert f"No Experiment with id={alice_run['experiment_id']}" in message
    # a name is global: taken is taken, whoever holds it
    _error(
        http.post(f"{API}/registered-models/create", json={"name": "vision-model"}, headers=bob),
        400,
        "RESOURCE_ALREADY_EXISTS",
    )

    # victor, a viewer in vision, reads but does not write
    assert _ok(http.get(f"{API}/registered-models/get", params={"name": "vision-model"}, headers=victor))
    assert _names(_ok(http.get(f"{API}/registered-models/search", headers=victor))) == ["vision-model"]
    for response in [
        http.post(
            f"{API}/registered-models/set-tag",
            json={"name": "vision-model", "key": "k", "value": "v"},
            headers=victor,
        ),
        http.post(
            f"{API}/model-versions/transition-stage",
            json={"name": "vision-model", "version": "1", "stage": "Production"},
            headers=victor,
        ),
        http.post(
            f"{API}/registered-models/alias",
            json={"name": "vision-model", "alias": "a", "version": "1"},
            headers=victor,
        ),
    ]:
        assert "needs the 'member' role" in _error(response, 403, "PERMISSION_DENIED")
    # the platform admin sees everything
    assert _names(_search(http, "registered-models")) == ["speech-model", "vision-model"]


def test_anonymous_requests_are_refused(anonymous_http: TestClient) -> None:
    response = anonymous_http.get(f"{API}/registered-models/search")
    _error(response, 401, "UNAUTHENTICATED")


# ---- deletion and the ajax mirror ---------------------------------------------------------------


def test_deleting_a_model_deletes_its_versions_tags_and_aliases(http: TestClient, services: Services) -> None:
    run = _run(http, "exp")
    _create(http, "m", tags=[{"key": "a", "value": "b"}])
    _create(http, "kept")
    _version(http, "m", f"runs:/{run['run_id']}/model", tags=[{"key": "x", "value": "y"}])
    _version(http, "m", f"runs:/{run['run_id']}/model")
    _version(http, "kept", f"runs:/{run['run_id']}/model")
    _ok(http.post(f"{API}/registered-models/alias", json={"name": "m", "alias": "champion", "version": "2"}))
    _ok(http.request("DELETE", f"{API}/registered-models/delete", json={"name": "m"}))
    with services.db.read() as s:
        counts = [
            s.scalar(select(func.count()).select_from(table))
            for table in (
                RegisteredModelRow,
                RegisteredModelTagRow,
                ModelVersionRow,
                ModelVersionTagRow,
                RegisteredModelAliasRow,
            )
        ]
    assert counts == [1, 0, 1, 0, 0]
    delete = [c for rid, a, c in _events(services, "registered_model") if (rid, a) == ("m", "delete")]
    assert delete == [
        {"before": {"name": "m", "group_id": 1}, "details": {"versions": [1, 2], "aliases": {"champion": 2}}}
    ]
    # recreating the name starts again at version 1
    _create(http, "m")
    assert _version(http, "m", f"runs:/{run['run_id']}/model")["version"] == "1"


def test_ajax_api_mirror(http: TestClient) -> None:
    _ok(http.post("/ajax-api/2.0/mlflow/registered-models/create", json={"name": "m"}))
    assert _names(_ok(http.get("/ajax-api/2.0/mlflow/registered-models/search"))) == ["m"]


def test_concurrent_creates_get_distinct_version_numbers(
    http: TestClient, services: Services, admin: Principal
) -> None:
    run = _run(http, "exp")
    _create(http, "m")

    def register(_: int) -> int:
        return services.registry.create_model_version(
            admin, name="m", source=f"runs:/{run['run_id']}/model"
        ).version

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(register, range(24)))
    assert sorted(numbers) == list(range(1, 25))
