"""The native resource API in the cube-studio convention: one generic set of routes per declared resource.

Every resource of ``services.resources.default_registry()`` is served under ``/<name>/api/``:
``_info``, list (filters, paging, ordering), show, create, update, delete, actions and multi-actions.
Routes stay thin; the declaration and the resource service do the work (see docs/resource-api.md).
"""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.resources.routes import build_router
from modelyard.services.resources import default_registry


def mount_resources(app: FastAPI) -> None:
    registry = default_registry()
    for spec in registry:
        app.include_router(build_router(spec, registry), prefix=f"/{spec.name}/api")
