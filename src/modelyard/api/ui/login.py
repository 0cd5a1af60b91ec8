"""Logging in and out, and the current user's account page (their groups, their password).

``POST /login`` takes a username and password, or an API token pasted in; a refused login is
counted in the audit trail exactly as the API's 401s are (``api.auth.audit_refusal``) and says only
"invalid username or password" whether or not the username exists. A login starts a new session
(the id is made here, after the credentials are checked: a cookie planted before cannot become a
session). ``next`` is followed only to a path on this site (``paths.safe_next``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from modelyard.api.auth import audit_refusal
from modelyard.api.deps import services
from modelyard.api.ui.deps import page_user, templates
from modelyard.api.ui.paths import LOGIN, safe_next
from modelyard.api.ui.security import clear_session_cookie, is_https, set_session_cookie
from modelyard.domain.errors import DomainError, Unauthenticated
from modelyard.domain.identity import Principal
from modelyard.services.identity.sessions import SESSION_MAX_MS
from modelyard.services.identity.users import MIN_PASSWORD_LENGTH

router = APIRouter(include_in_schema=False)
MAX_SECRET = 1024  # longer input is no password or token of ours: refused before any hashing


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _start_session(request: Request, response: Response, principal: Principal) -> None:
    session_id = services(request).identity.create_session(principal)
    set_session_cookie(response, session_id, secure=is_https(request.scope), max_age=SESSION_MAX_MS // 1000)


@router.get(LOGIN)
async def login_page(request: Request, next: str = "/") -> Response:
    target = safe_next(next)
    if not services(request).settings.auth or getattr(request.state, "principal", None) is not None:
        return RedirectResponse(target, status_code=303)
    ended = bool(getattr(request.state, "ui_session_ended", False))
    context = {
        "next": target,
        "error": "",
        "username": "",
        "notice": "Your session has ended." if ended else "",
    }
    return templates(request).render(request, "login.html", context)


@router.post(LOGIN)
async def login(request: Request) -> Response:
    svc = services(request)
    form = await request.form()
    target = safe_next(_text(form, "next"))
    if not svc.settings.auth:
        return RedirectResponse(target, status_code=303)
    username, password, token = (_text(form, k).strip() for k in ("username", "password", "token"))
    context: dict[str, Any] = {"next": target, "username": username[:64], "notice": ""}
    if not token and not (username and password):
        context["error"] = "Enter your username and password, or paste an API token."
        return templates(request).render(request, "login.html", context, status_code=400)
    try:
        if token:
            if len(token) > MAX_SECRET:
                raise Unauthenticated("Invalid token: no such token.")
            principal = await run_in_threadpool(svc.identity.authenticate_token, token)
        else:
            if len(password) > MAX_SECRET or len(username) > MAX_SECRET:
                raise Unauthenticated("Invalid username or password.")
            principal = await run_in_threadpool(svc.identity.authenticate_password, username, password)
    except Unauthenticated as exc:
        claimed = "token" if token else username[:64]
        await audit_refusal(svc, request.scope, claimed=claimed, reason=exc.message)
        context["error"] = exc.message
        return templates(request).render(request, "login.html", context, status_code=401)
    response = RedirectResponse(target, status_code=303)
    await run_in_threadpool(_start_session, request, response, principal)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = getattr(request.state, "ui_session", None)
    if session:
        await run_in_threadpool(services(request).identity.end_session, session)
    target = LOGIN if services(request).settings.auth else "/"
    response = RedirectResponse(target, status_code=303)
    clear_session_cookie(response, secure=is_https(request.scope))
    return response


@router.get("/account")
def account(request: Request, changed: str = "", user: Principal = Depends(page_user)) -> Response:
    done = "Password changed. Your other sessions were logged out." if changed else ""
    context = _account_context(user, done=done)
    return templates(request).render(request, "account.html", context, section="account")


def _account_context(user: Principal, **extra: Any) -> dict[str, Any]:
    return {
        "can_change_password": user.user_id is not None,
        "min_password": MIN_PASSWORD_LENGTH,
        "error": "",
        "done": "",
        **extra,
    }


@router.post("/account/password")
async def change_password(request: Request, user: Principal = Depends(page_user)) -> Response:
    svc = services(request)
    form = await request.form()
    current, new, confirm = (_text(form, k) for k in ("current", "new", "confirm"))
    page = templates(request)

    def refuse(message: str, status: int = 400) -> Response:
        context = _account_context(user, error=message)
        return page.render(request, "account.html", context, status_code=status, section="account")

    if user.user_id is None:
        return refuse("The system user has no password: the server runs without authentication.")
    if new != confirm:
        return refuse("The new password and its confirmation differ; type the same password twice.")
    if len(current) > MAX_SECRET or len(new) > MAX_SECRET:
        return refuse(f"Passwords are at most {MAX_SECRET} characters.")
    try:
        await run_in_threadpool(svc.identity.authenticate_password, user.username, current)
    except Unauthenticated:
        await audit_refusal(svc, request.scope, claimed=user.username, reason="wrong current password")
        return refuse("The current password is not right.", 401)
    try:
        await run_in_threadpool(svc.identity.set_password, user, user.username, new)
    except DomainError as exc:
        return refuse(exc.message)
    # the change ended every session of the user, this one too: a new one for this browser (and a
    # new page, whose forms carry the new session's CSRF token)
    response = RedirectResponse("/account?changed=1", status_code=303)
    await run_in_threadpool(_start_session, request, response, user)
    return response
