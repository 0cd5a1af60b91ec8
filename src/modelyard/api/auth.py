"""Authentication of every request, as pure ASGI middleware in front of the routers.

Accepted credentials: ``Authorization: Bearer <token>``, HTTP Basic (what the mlflow client sends
for MLFLOW_TRACKING_USERNAME/PASSWORD; the password may be a token), and cube-studio's
``Authorization: <username>|<token>`` (the token must belong to that user). The principal is put in
``request.state.principal``. Refusals are answered 401 in the surface's error shape, saying what was
wrong and what to set (``MLFLOW_TRACKING_TOKEN`` on MLflow paths, ``MODELYARD_TOKEN`` or ``--token``
elsewhere), and audited per client address (``services.audit.refusals``).
With auth disabled (``--no-auth``, loopback only) every request acts as the system principal.

The web UI's paths (``api/ui/paths.py``) take the session cookie instead, and only it: their
principal is the session's user, or None when there is no live session (the page then asks to log
in; ``api/ui/errors.py``). Their state-changing requests need the CSRF token (``api/ui/guard.py``).
"""

from __future__ import annotations

import base64
import binascii
import logging

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.api.errors import is_mlflow_path
from modelyard.api.ui.paths import LOGIN, is_public, is_ui_path
from modelyard.api.ui.security import SESSION_COOKIE, cookies
from modelyard.domain.errors import Unauthenticated
from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.services.identity import IdentityService

log = logging.getLogger("modelyard.auth")

PUBLIC_PATHS = frozenset(
    {"/health", "/version", "/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"}
)
_SYSTEM = Principal.system()
# What each surface's caller can do about a 401, after what was wrong.
MLFLOW_HINT = (
    "For the mlflow client, set MLFLOW_TRACKING_TOKEN to an API token of this server (create one with "
    "`modelyard tokens create`), or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."
)
RESOURCE_HINT = (
    "Send 'Authorization: Bearer <token>' with an API token of this server (create one with "
    "`modelyard tokens create`); the modelyard CLI and Client read it from MODELYARD_TOKEN or --token."
)


class Credentials:
    """What the Authorization header claims: a token, or a username with a secret."""

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str | None = None,
        secret: str | None = None,
        pipe: bool = False,
    ) -> None:
        self.token = token
        self.username = username
        self.secret = secret
        self.pipe = pipe


def parse_authorization(header: str | None) -> Credentials:
    if not header or not header.strip():
        raise Unauthenticated(
            "Authentication required: the request has no credentials (no Authorization header)."
        )
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credentials(token=value.strip())
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated(
                "Malformed Basic credentials: expected base64 of 'username:password'."
            ) from None
        username, sep, secret = decoded.partition(":")
        if not sep or not username:
            raise Unauthenticated("Malformed Basic credentials: expected base64 of 'username:password'.")
        return Credentials(username=username, secret=secret)
    if "|" in header and " " not in header.strip():
        username, _, token = header.strip().partition("|")
        if username and token:
            return Credentials(username=username, token=token, pipe=True)
    raise Unauthenticated(
        "Unsupported Authorization header: use 'Bearer <token>', 'Basic <base64>' or '<username>|<token>'."
    )


class AuthMiddleware:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.services.settings.auth or scope["path"] in PUBLIC_PATHS:
            state["principal"] = _SYSTEM
            await self.app(scope, receive, send)
            return
        if is_ui_path(scope["path"]):
            # the web UI: the session cookie, never the Authorization header (api/ui/paths.py)
            await self._ui_session(state, scope)
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        try:
            state["principal"] = await self._authenticate(header)
        except Unauthenticated as exc:
            await self._refuse(scope, send, exc.message, header)
            return
        await self.app(scope, receive, send)

    async def _ui_session(self, state: dict[str, object], scope: Scope) -> None:
        """The principal of the request's session cookie, or None (the page asks to log in)."""
        state["principal"] = None
        if is_public(scope["path"]) and scope["path"] != LOGIN:
            return
        session = cookies(scope).get(SESSION_COOKIE)
        if not session:
            return
        identity = self.services.identity
        try:
            principal = await run_in_threadpool(identity.authenticate_session, session)
        except Unauthenticated:
            state["ui_session_ended"] = True
            return
        state["principal"] = principal
        state["ui_session"] = session
        state["ui_groups"] = await run_in_threadpool(identity.role_names, principal)

    async def _authenticate(self, header: str | None) -> Principal:
        return await authenticate(self.services.identity, header)

    async def _refuse(self, scope: Scope, send: Send, message: str, header: str | None) -> None:
        path = scope.get("path", "")
        claimed = "anonymous"
        try:
            creds = parse_authorization(header)
            claimed = creds.username or "token"
        except Unauthenticated:
            pass
        await audit_refusal(self.services, scope, claimed=claimed, reason=message)
        await self._answer_401(path, send, message)

    async def _answer_401(self, path: str, send: Send, message: str) -> None:
        body: dict[str, object]
        if is_mlflow_path(path):
            body = {"error_code": "UNAUTHENTICATED", "message": f"{message} {MLFLOW_HINT}"}
        else:
            message = f"{message} {RESOURCE_HINT}"
            body = {"status": 401, "message": message, "error_code": "UNAUTHENTICATED", "result": {}}
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"www-authenticate", b'Basic realm="modelyard", Bearer'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def authenticate(identity: IdentityService, header: str | None) -> Principal:
    """The principal an Authorization header names (token or password), else ``Unauthenticated``."""
    creds = parse_authorization(header)
    if creds.token is not None:
        principal = identity.cached(creds.token)
        if principal is None:
            principal = await run_in_threadpool(identity.authenticate_token, creds.token)
        if creds.pipe and principal.username != creds.username:
            raise Unauthenticated("The token does not belong to the user named in the Authorization header.")
        return principal
    assert creds.username is not None and creds.secret is not None
    return await run_in_threadpool(identity.authenticate_password, creds.username, creds.secret)


async def audit_refusal(services: Services, scope: Scope, *, claimed: str, reason: str) -> None:
    """Count a refused authentication (a 401, a failed login in the UI) in the audit trail.

    Counted per client address, never per claimed name: a made-up username per request must not
    make a new audit event per request (services.audit.refusals)."""
    client = scope.get("client") or ("unknown", 0)
    event = services.audit.refusals.refused(
        client=str(client[0]),
        claimed=claimed,
        method=scope.get("method", ""),
        path=scope.get("path", ""),
        reason=reason,
    )
    if event is not None:
        try:
            await run_in_threadpool(services.audit.append_events, [event])
        except Exception:  # an audit failure must not turn a refusal into a 500
            log.exception("could not audit a refused request")
