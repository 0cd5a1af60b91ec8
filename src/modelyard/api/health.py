"""Liveness and version endpoints (MLflow's ``/health`` and ``/version`` included)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

from modelyard.api.openapi import Content, documented
from modelyard.version import __version__

router = APIRouter()


@router.get("/health", response_class=PlainTextResponse)
@documented(response=Content({"text/plain": {"type": "string", "const": "OK"}}))
async def health() -> str:
    return "OK"


@router.get("/version", response_class=PlainTextResponse)
@documented(response=Content({"text/plain": {"type": "string"}}))
async def version() -> str:
    return __version__
