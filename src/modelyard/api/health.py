"""Liveness and version endpoints (MLflow's ``/health`` and ``/version`` included)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import PlainTextResponse

from modelyard.version import __version__

router = APIRouter()


@router.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    return "OK"


@router.get("/version", response_class=PlainTextResponse)
async def version() -> str:
    return __version__
