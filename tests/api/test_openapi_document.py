"""The OpenAPI document describes what the routes take (issue 12, item 8), checked against the route
table: every operation whose handler reads a body documents a request body with a schema (and none
documents a body its handler never reads), and every GET route documents each query parameter its
handler reads. What a handler reads is observed, not declared: the tests send each route a request and
record which query parameters the handler looked up and whether it read the body, so a new route, or a
new parameter read by an old one, is covered without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from starlette.datastructures import ImmutableMultiDict, QueryParams
from starlette.requests import Request

API = "/api/2.0/mlflow"
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class Observed:
    """What the handler of the request in flight read: query parameter names, and whether the body."""

    def __init__(self) -> None:
        self.query: set[str] = set()
        self.body = False

    def reset(self) -> None:
        self.query.clear()
        self.body = False


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> Observed:
    seen = Observed()
    stream = Request.stream

    def observed_stream(self: Request) -> AsyncIterator[bytes]:
        seen.body = True
        return stream(self)

    monkeypatch.setattr(Request, "stream", observed_stream)  # Request.body() reads through stream()
    for name in ("__getitem__", "__contains__", "getlist"):
        original = getattr(ImmutableMultiDict, name)

        def read(self: QueryParams, key: Any, *args: Any, _original: Callable[..., Any] = original) -> Any:
            seen.query.add(key)
            return _original(self, key, *args)

        monkeypatch.setattr(QueryParams, name, read)
    return seen


@pytest.fixture
def document(http: TestClient) -> dict[str, Any]:
    r = http.get("/openapi.json")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _operations(app: FastAPI, document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every route of the route table that the document lists."""
    paths = document["paths"]
    for context in iter_route_contexts(app.routes):
        path = context.path_format
        for method in sorted(context.methods or ()):
            operation = paths.get(path, {}).get(method.lower())
            if operation is not None:
                yield method, path, operation


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _sample(parameter: dict[str, Any]) -> str:
    """A plausible value for a query parameter, so that the handler gets past it to the next one."""
    if "content" in parameter:
        return "{}" if parameter["name"] == "form_data" else "[]"
    schema = parameter["schema"]
    if "enum" in schema:
        return str(schema["enum"][0])
    kind = schema.get("type")
    if kind == "array":
        kind = schema["items"].get("type")
    return {"integer": "1", "boolean": "true"}.get(kind, "x1")


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_it_lists_every_route_of_both_apis_once(app: FastAPI, document: dict[str, Any]) -> None:
    listed = {(m, p) for m, p, _ in _operations(app, document)}
    assert ("POST", f"{API}/runs/log-batch") in listed
    assert ("GET", "/experiment/api/") in listed and ("PUT", "/quota/api/{group}") in listed
    assert not [p for p in document["paths"] if p.startswith("/ajax-api/")]  # the mirror is the same API
    served = {
        (m, c.path_format)
        for c in iter_route_contexts(app.routes)
        for m in c.methods or ()
        if c.path_format and c.path_format.startswith(("/api/", "/experiment/api", "/deployment/api"))
    }
    assert served <= listed
    ids = [op["operationId"] for _, _, op in _operations(app, document)]
    assert len(ids) == len(set(ids)) == len(listed)


def test_every_route_that_reads_a_body_documents_it(
    app: FastAPI, http: TestClient, document: dict[str, Any], observed: Observed
) -> None:
    checked, problems = 0, []
    for method, path, operation in _operations(app, document):
        if method not in BODY_METHODS:
            continue
        observed.reset()
        r = http.request(method, _concrete(path), json={})
        assert r.status_code < 500, (method, path, r.text)
        documented = operation.get("requestBody", {}).get("content", {})
        if observed.body and not any("schema" in media for media in documented.values()):
            problems.append(f"{method} {path} reads a body the document does not describe")
        if documented and not observed.body:
            problems.append(f"{method} {path} documents a body its handler did not read ({r.status_code})")
        checked += observed.body
    assert not problems, "\n".join(problems)
    assert checked > 60


def test_every_get_route_documents_the_query_parameters_it_reads(
    app: FastAPI, http: TestClient, document: dict[str, Any], observed: Observed
) -> None:
    problems, read_any = [], 0
    for method, path, operation in _operations(app, document):
        if method != "GET":
            continue
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        documented = {p["name"] for p in query}
        for params in ({}, {p["name"]: _sample(p) for p in query}):
            observed.reset()
            r = http.get(_concrete(path), params=params)
            assert r.status_code != 500, (path, params, r.text)  # 503: logs need the controller
            undocumented = observed.query - documented
            if undocumented:
                problems.append(f"GET {path} reads undocumented query parameters {sorted(undocumented)}")
            read_any += bool(observed.query)
    assert not problems, "\n".join(problems)
    assert read_any > 30


def test_run_get_and_metric_history_document_their_query(document: dict[str, Any]) -> None:
    """The parameters the MLflow client sends, as it sends them."""

    def query(path: str) -> dict[str, dict[str, Any]]:
        ops = document["paths"][path]["get"]["parameters"]
        return {p["name"]: p for p in ops if p["in"] == "query"}

    assert set(query(f"{API}/runs/get")) == {"run_id", "run_uuid"}
    history = query(f"{API}/metrics/get-history")
    assert history["metric_key"]["required"] is True
    assert history["max_results"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 25000}
    bulk = query(f"{API}/metrics/get-history-bulk-interval")
    assert bulk["run_ids"]["schema"]["type"] == "array" and bulk["run_ids"]["explode"] is True
    assert set(query(f"{API}/registered-models/get")) == {"name"}
    assert set(query(f"{API}/model-versions/get")) == {"name", "version"}
    form_data = query("/run/api/")["form_data"]
    schema = document["components"]["schemas"][
        form_data["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    ]
    assert set(schema["properties"]) == {"filters", "page", "page_size", "order_column", "order_direction"}


def _component(document: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return dict(document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]])


def test_log_batch_is_described_with_mlflows_limits(document: dict[str, Any]) -> None:
    body = document["paths"][f"{API}/runs/log-batch"]["post"]["requestBody"]
    schema = _component(document, body["content"]["application/json"]["schema"])
    assert schema["required"] == ["run_id"]
    assert schema["properties"]["metrics"]["maxItems"] == 1000
    assert schema["properties"]["params"]["maxItems"] == 100
    metric = _component(document, schema["properties"]["metrics"]["items"])
    assert set(metric["required"]) == {"key", "value", "timestamp"}
    assert metric["properties"]["timestamp"] == {
        "maximum": 2**63 - 1,
        "minimum": -(2**63),
        "title": "Timestamp",
        "type": "integer",
    }
    assert {"enum": ["NaN", "Infinity", "-Infinity"], "type": "string"} in metric["properties"]["value"][
        "anyOf"
    ]


def test_resource_forms_are_described_from_their_declaration(document: dict[str, Any]) -> None:
    add = document["paths"]["/experiment/api/"]["post"]
    schema = _component(document, add["requestBody"]["content"]["application/json"]["schema"])
    assert schema["additionalProperties"] is False
    assert "name" in schema["required"]
    assert schema["properties"]["name"]["maxLength"] == 500
    assert set(add["responses"]) >= {"201", "400", "401", "403", "404"}
    edit = document["paths"]["/experiment/api/{key}"]["put"]
    assert (
        _component(document, edit["requestBody"]["content"]["application/json"]["schema"])["minProperties"]
        == 1
    )
    key = next(p for p in edit["parameters"] if p["name"] == "key")
    assert key["schema"]["type"] == "integer"


def test_refusals_are_described_in_the_shape_of_each_surface(app: FastAPI, document: dict[str, Any]) -> None:
    for method, path, operation in _operations(app, document):
        refusal = operation["responses"]["400"]["content"]["application/json"]["schema"]
        expected = "MlflowError" if path.startswith("/api/") else "ResourceError"
        assert refusal == {"$ref": f"#/components/schemas/{expected}"}, (method, path)
        assert "422" not in operation["responses"], (method, path)
        success = [s for s in operation["responses"] if s.startswith("2")]
        assert len(success) == 1 and operation["responses"][success[0]].get("content"), (method, path)
    public = document["paths"]["/health"]["get"]
    assert public["security"] == [] and document["security"] == [{"bearer": []}, {"basic": []}]
