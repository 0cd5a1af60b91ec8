"""The application factory: one function builds everything from settings; nothing is module-global."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from modelyard.api import health, metrics
from modelyard.api.auth import AuthMiddleware
from modelyard.api.docs import mount_docs
from modelyard.api.errors import UnexpectedErrors, install_error_handlers
from modelyard.api.gateway import Gateway, GatewayMetrics
from modelyard.api.limits import BodySizeLimit, RequestLineGuard
from modelyard.api.mlflow import mount_mlflow
from modelyard.api.resources import mount_resources
from modelyard.controller import Controller
from modelyard.services import Services, build_services
from modelyard.settings import Settings
from modelyard.version import __version__


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the ASGI app. Pass ``services`` to share one container (tests do); else it is built here."""
    svc = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        controller = Controller(svc) if svc.settings.controller else None
        app.state.controller = controller
        if controller is not None:
            controller.start()
        try:
            yield
        finally:
            if controller is not None:
                controller.close()
            if services is None:
                svc.close()

    app = FastAPI(title="modelyard", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = svc
    install_error_handlers(app)
    mount_docs(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.state.gateway_metrics = gateway_metrics = GatewayMetrics()
    mount_mlflow(app)
    mount_resources(app)
    app.add_middleware(AuthMiddleware, services=svc)
    app.add_middleware(BodySizeLimit, max_bytes=svc.settings.max_request_bytes)
    app.add_middleware(RequestLineGuard)
    # Prediction requests under /deployment/<name>/ go straight to the replicas, past the platform's
    # routing and middleware; the gateway authenticates them itself.
    app.add_middleware(Gateway, services=svc, metrics=gateway_metrics)
    # Outermost: an exception nothing else answered ends here, with a 500 and a usable connection.
    app.add_middleware(UnexpectedErrors)
    return app
