"""The session cookie, the CSRF token and the security headers of the UI's answers.

The session cookie (``modelyard_session``) holds a random session id; the server keeps only its
hash (``services.identity.sessions``). Before logging in, and in ``--no-auth`` mode where there is
no session, a random ``modelyard_csrf`` cookie stands in for it. The CSRF token is an HMAC of that
cookie's value: a page can put it in a form or a header only if it could read the page, which
another site cannot (and the cookie itself is HttpOnly and SameSite=Lax).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope

SESSION_COOKIE = "modelyard_session"
PRE_COOKIE = "modelyard_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1"))
    return {}


def csrf_key(scope: Scope) -> str | None:
    """What the CSRF token of this request is derived from: the session id once logged in, else the
    pre-login cookie (set by ``ensure_pre_cookie``, or by the guard on this very answer)."""
    state = scope.get("state", {})
    session = state.get("ui_session")
    if session:
        return str(session)
    jar = cookies(scope)
    return jar.get(PRE_COOKIE) or state.get("ui_new_pre_cookie")


def token_for(key: str) -> str:
    return hmac.new(key.encode(), b"modelyard-csrf", hashlib.sha256).hexdigest()


def csrf_token(scope: Scope) -> str:
    """The token a form or htmx request of this page must send back ('' before any cookie exists;
    the guard sets one on the answer, so the page's token is the one the next request needs)."""
    key = csrf_key(scope)
    return token_for(key) if key else ""


def csrf_valid(scope: Scope, sent: str | None) -> bool:
    key = csrf_key(scope)
    return bool(key and sent) and hmac.compare_digest(token_for(key or ""), sent or "")


def new_pre_cookie_value() -> str:
    return secrets.token_urlsafe(24)


def is_https(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    response = Response()
    response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax")
    return response.headers["set-cookie"]


def set_session_cookie(response: Response, session_id: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
    )


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")


def add_security_headers(headers: MutableHeaders) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name not in headers:
            headers[name] = value
