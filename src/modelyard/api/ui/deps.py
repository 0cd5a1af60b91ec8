"""What UI routes ask of a request: who is signed in (or a redirect to the login page), the
templates, the services."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from modelyard.api.ui.errors import LoginRequired
from modelyard.api.ui.templating import Templates
from modelyard.domain.identity import Principal


def page_user(request: Request) -> Principal:
    """The signed-in user (the system principal with ``--no-auth``); without a live session the
    request is answered with the login page (``errors.login_required``)."""
    principal = cast(Principal | None, getattr(request.state, "principal", None))
    if principal is None:
        raise LoginRequired
    return principal


def templates(request: Request) -> Templates:
    return cast(Templates, request.app.state.ui_templates)
