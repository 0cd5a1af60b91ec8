"""The OpenAPI document (``/openapi.json``): what each operation takes and answers, from the wire schemas.

Routes read their requests by hand (MLflow's error codes and messages; the hot tracking paths stay
cheap), so FastAPI cannot see what they take. Each route says it with ``@documented(...)``, next to
the handler: the schema of its body, its query parameters (a pydantic model, one field per parameter)
and its answer. ``install_openapi`` builds the document from the route table and those declarations:
FastAPI's paths and path parameters, then the bodies, query parameters and answers, every model as a
named component, the refusals in the shape of the surface that answers them (MLflow's
``{error_code, message}`` or the resource envelope), and the credentials as security schemes. A
declaration only describes: nothing is added to a request's path through the server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from modelyard.api.auth import PUBLIC_PATHS
from modelyard.api.errors import is_mlflow_path
from modelyard.schemas.api_types import MlflowError, ResourceError

REF = "#/components/schemas/{model}"
_DOC_ATTR = "__modelyard_doc__"
_ERROR_STATUSES = {
    "400": "The request is malformed; the message names the field and the problem.",
    "401": "No valid credentials.",
    "403": "The caller lacks the role this needs.",
    "404": "No such object, or one the caller may not see (both answered alike).",
    "default": "Any other refusal (409 conflict, 413 body too large, 429, 503 ...), in the same shape.",
}
DESCRIPTION = """modelyard's HTTP API: the MLflow REST API 2.0 (`/api/2.0/mlflow/...`; the MLflow UI's mirror
`/ajax-api/2.0/mlflow/...` is the same API and is not listed again), the resource API
(`/<resource>/api/...`, cube-studio's convention) and the platform's own routes. Every route but
`/health`, `/version` and `server-info` needs credentials: `Authorization: Bearer <token>` or HTTP
Basic. The inference data plane under `/deployment/<name>/...` is described in docs/serving.md."""


@dataclass(frozen=True, slots=True)
class Schema:
    """A JSON Schema under a component name, for what no pydantic model describes (a resource's form).
    ``uses`` are the models and schemas its ``$ref``s name (``REF.format(model=M.__name__)``)."""

    name: str
    schema: dict[str, Any]
    uses: tuple[type[BaseModel] | Schema, ...] = ()

    @property
    def ref(self) -> dict[str, str]:
        return {"$ref": REF.format(model=self.name)}


@dataclass(frozen=True, slots=True)
class Parameters:
    """Query parameters built from a declaration (a resource's columns), with the schemas they name."""

    items: tuple[dict[str, Any], ...]
    uses: tuple[Schema, ...] = ()


@dataclass(frozen=True, slots=True)
class Content:
    """A body or an answer that is not (only) JSON: a schema (or a model) per media type."""

    media: dict[str, dict[str, Any] | Schema | type[BaseModel]]


def model_ref(model: type[BaseModel]) -> dict[str, str]:
    """A ``$ref`` to a model's component, for a ``Schema`` that lists the model in its ``uses``."""
    return {"$ref": REF.format(model=model.__name__)}


Described = type[BaseModel] | Schema | Content


@dataclass(frozen=True, slots=True)
class Doc:
    """What one operation takes and answers. ``status`` is its success status."""

    body: Described | None = None
    body_required: bool = True
    query: type[BaseModel] | Parameters | None = None
    response: Described | None = None
    status: int = 200
    path: dict[str, dict[str, Any]] = field(default_factory=dict)


E = TypeVar("E", bound=Callable[..., Any])


def documented(
    *,
    body: Described | None = None,
    body_required: bool = True,
    query: type[BaseModel] | Parameters | None = None,
    response: Described | None = None,
    status: int = 200,
    path: dict[str, dict[str, Any]] | None = None,
) -> Callable[[E], E]:
    """Mark a route's endpoint with what it takes and answers (works above or below the route decorator).
    ``path`` gives a path parameter a schema more precise than its Python type (an integer id)."""
    return with_doc(Doc(body, body_required, query, response, status, path or {}))


def with_doc(doc: Doc) -> Callable[[E], E]:
    """Mark a route's endpoint with a ``Doc`` built elsewhere (from a resource's declaration)."""

    def mark(endpoint: E) -> E:
        setattr(endpoint, _DOC_ATTR, doc)
        return endpoint

    return mark


def doc_of(endpoint: Callable[..., Any] | None) -> Doc | None:
    return getattr(endpoint, _DOC_ATTR, None)


def install_openapi(app: FastAPI) -> None:
    """Serve the document built by ``build_document`` (once, on the first request for it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# ---- building ------------------------------------------------------------------------------------
@dataclass
class _Models:
    """The pydantic models the document names, generated together so that names never collide."""

    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = field(default_factory=list)

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        if (model, mode) not in self.wanted:
            self.wanted.append((model, mode))
        return {"$ref": f"#/x-pending/{mode}/{model.__module__}.{model.__qualname__}"}

    def resolve(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        keys, defs = models_json_schema(self.wanted, ref_template=REF)
        pending = {
            f"#/x-pending/{mode}/{model.__module__}.{model.__qualname__}": ref
            for (model, mode), ref in keys.items()
        }
        return pending, defs.get("$defs", {})


def build_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes, tags=None
    )
    models = _Models()
    named: dict[str, dict[str, Any]] = {}
    paths: dict[str, dict[str, Any]] = document.get("paths", {})
    for context in iter_route_contexts(app.routes):
        path = context.path_format
        operations = paths.get(path or "")
        if path is None or operations is None:
            continue
        doc = doc_of(context.endpoint)
        for method in sorted(context.methods or ()):
            operation = operations.get(method.lower())
            if operation is None:
                continue
            _describe(operation, path, doc, models, named)
    pending, defs = models.resolve()
    _replace_refs(document, pending)
    components = document.setdefault("components", {})
    schemas: dict[str, Any] = dict(defs)
    for name, schema in named.items():
        if schemas.get(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name!r} in the OpenAPI document")
        schemas[name] = schema
    components["schemas"] = dict(sorted(schemas.items()))
    _check_refs(document, set(schemas))
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API token."},
        "basic": {"type": "http", "scheme": "basic", "description": "Username and password (or a token)."},
    }
    document["security"] = [{"bearer": []}, {"basic": []}]
    return document


def _describe(
    operation: dict[str, Any],
    path: str,
    doc: Doc | None,
    models: _Models,
    named: dict[str, dict[str, Any]],
) -> None:
    error = MlflowError if is_mlflow_path(path) else ResourceError
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's validation answer: ours is a 400 in the surface's shape
    public = path in PUBLIC_PATHS
    if public:
        operation["security"] = []  # answered without credentials
    if doc is None:
        _errors(responses, error, models, public)
        return
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter["name"] in doc.path:
            parameter["schema"] = doc.path[parameter["name"]]
    if doc.query is not None:
        known = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        if isinstance(doc.query, Parameters):
            given = [dict(p) for p in doc.query.items]
            for schema in doc.query.uses:
                _name(schema, "validation", models, named)
        else:
            given = _query_parameters(doc.query, named)
        operation["parameters"] = [
            *operation.get("parameters", []),
            *(p for p in given if p["name"] not in known),
        ]
    if doc.body is not None:
        operation["requestBody"] = {
            "required": doc.body_required,
            "content": _content(doc.body, "validation", models, named),
        }
    success: dict[str, Any] = {"description": "Success."}
    if doc.response is not None:
        success["content"] = _content(doc.response, "serialization", models, named)
    responses.pop("200", None)
    responses[str(doc.status)] = success
    _errors(responses, error, models, public)


def _errors(responses: dict[str, Any], error: type[BaseModel], models: _Models, public: bool) -> None:
    for status, description in _ERROR_STATUSES.items():
        if public and status in ("401", "403"):
            continue
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {"application/json": {"schema": models.ref(error, "serialization")}},
            },
        )


def _content(
    described: Described,
    mode: Literal["validation", "serialization"],
    models: _Models,
    named: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    if isinstance(described, Content):
        return {
            media: {"schema": _schema(schema, mode, models, named)}
            for media, schema in described.media.items()
        }
    return {"application/json": {"schema": _schema(described, mode, models, named)}}


def _schema(
    described: dict[str, Any] | Schema | type[BaseModel],
    mode: JsonSchemaMode,
    models: _Models,
    named: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    if isinstance(described, dict):
        return described
    if isinstance(described, Schema):
        _name(described, mode, models, named)
        return described.ref
    return models.ref(described, mode)


def _name(schema: Schema, mode: JsonSchemaMode, models: _Models, named: dict[str, dict[str, Any]]) -> None:
    """Register ``schema`` (and what it uses) as components."""
    if named.get(schema.name, schema.schema) != schema.schema:
        raise ValueError(f"two different schemas are named {schema.name!r} in the OpenAPI document")
    named[schema.name] = schema.schema
    for used in schema.uses:
        if isinstance(used, Schema):
            _name(used, mode, models, named)
        else:
            models.ref(used, mode)


def _query_parameters(model: type[BaseModel], named: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One query parameter per field: a list is a repeated parameter, a JSON document (``Json[...]``)
    a parameter with JSON content. A query parameter is present or absent, never null: an optional
    field's ``null`` alternative is left out."""
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in schema.get("$defs", {}).items():
        if named.get(name, definition) != definition:
            raise ValueError(f"two different schemas are named {name!r} in the OpenAPI document")
        named[name] = definition
    required = set(schema.get("required", ()))
    out = []
    for name, raw in schema.get("properties", {}).items():
        prop = _not_null({k: v for k, v in raw.items() if k != "title"})
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if description:
            parameter["description"] = description
        if prop.get("contentMediaType") == "application/json":
            parameter["content"] = {"application/json": {"schema": prop.get("contentSchema", {})}}
        else:
            parameter["schema"] = prop
            if prop.get("type") == "array":
                parameter["style"], parameter["explode"] = "form", True
        out.append(parameter)
    return out


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    rest = [o for o in options if o != {"type": "null"}]
    if len(rest) != 1:
        return schema
    out = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**rest[0], **out}


def _replace_refs(node: Any, pending: dict[str, dict[str, Any]]) -> None:
    """Point the placeholders ``_Models.ref`` left at the components pydantic named."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in pending:
            node.clear()
            node.update(pending[ref])
            return
        _each(node.values(), pending)
    elif isinstance(node, list):
        _each(node, pending)


def _each(items: Iterable[Any], pending: dict[str, dict[str, Any]]) -> None:
    for item in items:
        _replace_refs(item, pending)


def _check_refs(node: Any, names: set[str]) -> None:
    """Every ``$ref`` names a component (a model renamed by pydantic would leave one dangling)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        prefix = "#/components/schemas/"
        if isinstance(ref, str) and ref.startswith(prefix) and ref.removeprefix(prefix) not in names:
            raise ValueError(f"the OpenAPI document refers to a missing component: {ref}")
        for item in node.values():
            _check_refs(item, names)
    elif isinstance(node, list):
        for item in node:
            _check_refs(item, names)
