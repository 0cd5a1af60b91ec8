"""Small request helpers shared by routers."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from modelyard.domain.identity import Principal
from modelyard.services import Services


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


def principal(request: Request) -> Principal:
    """Who the request acts as (set by the auth middleware for every request)."""
    return cast(Principal, request.state.principal)
