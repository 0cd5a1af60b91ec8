"""Deployment operations that take parameters, beside the generic routes (whose actions take none).

* ``POST /deployment/api/deploy`` ``{"model", "name"?, "group"?}``: deploy to staging in one call.
* ``POST /deployment/api/<key>/scale`` ``{"replicas", "predictor"?}``
* ``POST /deployment/api/<key>/restart`` ``{"predictor"?}`` (replace every replica, surge-first)
* ``POST /deployment/api/<key>/rollback`` ``{"to"?}`` (a history index, default 1: the spec before)
* ``POST /deployment/api/<key>/promote`` ``{"name", "overrides"?}`` (group admins)
* ``GET /deployment/api/<key>/history``
* ``GET|POST /deployment/api/<key>/tokens``, ``DELETE /deployment/api/<key>/tokens/<token_id>``

Bodies are checked for unknown keys here (a typo must not be silently ignored); the values are
checked by the service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.body import json_body
from modelyard.api.deps import principal, services
from modelyard.api.openapi import documented, model_ref
from modelyard.api.resources.openapi import envelope as envelope_schema
from modelyard.api.resources.routes import envelope
from modelyard.domain.errors import InvalidParameter, NotFound
from modelyard.domain.values import ascii_digits
from modelyard.schemas import resources as wire
from modelyard.services import Services
from modelyard.services.resources import deployments as resource

WithUrls = Callable[[Request, dict[str, Any]], dict[str, Any]]
MAX_TOKEN_ID = 2**31 - 1
KEY = {"key": {"type": "string", "minLength": 1, "description": "The deployment's numeric id or its name."}}
DEPLOYMENT = envelope_schema("deployment.answer", model_ref(wire.Deployment), (wire.Deployment,))
HISTORY = envelope_schema(
    "deployment.history_answer",
    {
        "type": "object",
        "required": ["data", "count"],
        "properties": {
            "data": {"type": "array", "items": {"type": "object", "required": ["index"]}},
            "count": {"type": "integer"},
        },
    },
)
TOKENS = envelope_schema(
    "deployment.tokens_answer",
    {
        "type": "object",
        "required": ["data", "count"],
        "properties": {
            "data": {"type": "array", "items": model_ref(wire.ClientToken)},
            "count": {"type": "integer"},
        },
    },
    (wire.ClientToken,),
)
TOKEN = envelope_schema("deployment.token_answer", model_ref(wire.ClientToken), (wire.ClientToken,))
REVOKED = envelope_schema("deployment.revoked_answer", model_ref(wire.RevokedToken), (wire.RevokedToken,))


async def _body(
    request: Request, allowed: tuple[str, ...], *, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    body = await json_body(request)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidParameter(f"body: unknown field(s) {unknown}; allowed: {', '.join(allowed)}.")
    for key in required:
        if key not in body:
            raise InvalidParameter(f"{key}: required.")
    return body


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidParameter(f"{key}: expected a string, got {value!r}.")
    return value


def _token_id(raw: str) -> int:
    if not ascii_digits(raw, 10) or int(raw) > MAX_TOKEN_ID:
        raise NotFound(f"token: no client token with id {raw!r}.")
    return int(raw)


def add_routes(router: APIRouter, with_urls: WithUrls) -> None:
    """Adds the routes to the deployment router (before its ``/{key}`` routes)."""

    async def run(request: Request, call: Callable[[Services, Any], Any]) -> Any:
        return await run_in_threadpool(call, services(request), principal(request))

    @router.post("/deploy", name="deployment_deploy")
    @documented(body=wire.DeployModel, response=DEPLOYMENT, status=201)
    async def deploy(request: Request) -> Response:
        body = await _body(request, ("model", "name", "group"), required=("model",))
        model = body["model"]
        if not isinstance(model, str):
            raise InvalidParameter(f"model: expected models:/<name>/<version>, got {model!r}.")
        name, group = _optional_str(body, "name"), _optional_str(body, "group")
        view = await run(
            request, lambda svc, actor: svc.deployments.deploy_model(actor, model, name=name, group=group)
        )
        return envelope(with_urls(request, view), 201)

    @router.post("/{key}/scale", name="deployment_scale")
    @documented(body=wire.Scale, response=DEPLOYMENT, path=KEY)
    async def scale(request: Request, key: str) -> Response:
        body = await _body(request, ("replicas", "predictor"), required=("replicas",))
        predictor = _optional_str(body, "predictor")
        view = await run(
            request,
            lambda svc, actor: svc.deployments.scale(
                actor, resource.deployment_name(svc, key, actor), body["replicas"], predictor
            ),
        )
        return envelope(with_urls(request, view))

    @router.post("/{key}/restart", name="deployment_restart")
    @documented(body=wire.Restart, body_required=False, response=DEPLOYMENT, path=KEY)
    async def restart(request: Request, key: str) -> Response:
        body = await _body(request, ("predictor",))
        predictor = _optional_str(body, "predictor")
        view = await run(
            request,
            lambda svc, actor: svc.deployments.restart(
                actor, resource.deployment_name(svc, key, actor), predictor
            ),
        )
        return envelope(with_urls(request, view))

    @router.post("/{key}/rollback", name="deployment_rollback")
    @documented(body=wire.Rollback, body_required=False, response=DEPLOYMENT, path=KEY)
    async def rollback(request: Request, key: str) -> Response:
        body = await _body(request, ("to",))
        view = await run(
            request,
            lambda svc, actor: svc.deployments.rollback(
                actor, resource.deployment_name(svc, key, actor), body.get("to", 1)
            ),
        )
        return envelope(with_urls(request, view))

    @router.post("/{key}/promote", name="deployment_promote")
    @documented(body=wire.Promote, response=DEPLOYMENT, status=201, path=KEY)
    async def promote(request: Request, key: str) -> Response:
        body = await _body(request, ("name", "overrides"), required=("name",))
        view = await run(
            request,
            lambda svc, actor: svc.deployments.promote(
                actor, resource.deployment_name(svc, key, actor), body["name"], body.get("overrides")
            ),
        )
        return envelope(with_urls(request, view), 201)

    @router.get("/{key}/history", name="deployment_history")
    @documented(response=HISTORY, path=KEY)
    async def history(request: Request, key: str) -> Response:
        entries = await run(request, lambda svc, actor: resource.history(svc, actor, key))
        return envelope({"data": entries, "count": len(entries)})

    @router.get("/{key}/tokens", name="deployment_tokens")
    @documented(response=TOKENS, path=KEY)
    async def tokens(request: Request, key: str) -> Response:
        found = await run(
            request,
            lambda svc, actor: svc.deployments.list_tokens(actor, resource.deployment_name(svc, key, actor)),
        )
        return envelope({"data": found, "count": len(found)})

    @router.post("/{key}/tokens", name="deployment_token_create")
    @documented(body=wire.CreateClientToken, body_required=False, response=TOKEN, status=201, path=KEY)
    async def create_token(request: Request, key: str) -> Response:
        body = await _body(request, ("name",))
        label = _optional_str(body, "name") or ""
        created = await run(
            request,
            lambda svc, actor: svc.deployments.create_token(
                actor, resource.deployment_name(svc, key, actor), label
            ),
        )
        return envelope(created, 201)

    @router.delete("/{key}/tokens/{token_id}", name="deployment_token_revoke")
    @documented(
        response=REVOKED, path={**KEY, "token_id": {"type": "integer", "minimum": 1, "maximum": MAX_TOKEN_ID}}
    )
    async def revoke_token(request: Request, key: str, token_id: str) -> Response:
        number = _token_id(token_id)
        await run(
            request,
            lambda svc, actor: svc.deployments.revoke_token(
                actor, resource.deployment_name(svc, key, actor), number
            ),
        )
        return envelope({"id": number, "revoked": True})
