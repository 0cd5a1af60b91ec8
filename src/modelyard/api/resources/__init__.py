"""The native resource API in the cube-studio convention: one generic set of routes per declared resource.

Every resource of ``services.resources.default_registry()`` is served under ``/<name>/api/``:
``_info``, list (filters, paging, ordering), show, create, update, delete, actions and multi-actions.
Routes stay thin; the declaration and the resource service do the work (see docs/resource-api.md).
``deployment`` has a router of its own on the same convention (JSON bodies, ids or names, operations
with parameters), and group quotas are served under ``/quota/api/``.
"""

from __future__ import annotations

from fastapi import FastAPI

from modelyard.api.resources.deployments import build_deployment_router
from modelyard.api.resources.quotas import mount_quotas
from modelyard.api.resources.routes import build_router
from modelyard.services.resources import default_registry

DEDICATED = {"deployment": build_deployment_router}


def mount_resources(app: FastAPI) -> None:
    registry = default_registry()
    for spec in registry:
        build = DEDICATED.get(spec.name, build_router)
        app.include_router(build(spec, registry), prefix=f"/{spec.name}/api")
    mount_quotas(app)
