"""Small request helpers shared by routers."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from modelyard.services import Services


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)
