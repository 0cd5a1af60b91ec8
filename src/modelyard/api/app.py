"""The application factory: one function builds everything from settings; nothing is module-global.

The inference gateway runs in the app (the default: tests, embedding, ``modelyard server --gateway
inline``) or in a process of its own in front of it (``modelyard server``'s default): then the app is
built with ``gateway=`` the notifier that tells that process about deployment changes, and has no
gateway middleware and no gateway series in ``/metrics`` (the gateway process adds its own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from modelyard.api import health, metrics
from modelyard.api.auth import AuthMiddleware
from modelyard.api.docs import mount_docs
from modelyard.api.errors import UnexpectedErrors, install_error_handlers
from modelyard.api.gateway import Gateway, GatewayMetrics
from modelyard.api.gateway.runfiles import Notifier
from modelyard.api.limits import BodySizeLimit, RequestLineGuard
from modelyard.api.mlflow import mount_mlflow
from modelyard.api.mlflow.hot import HotRoutes
from modelyard.api.resources import mount_resources
from modelyard.api.ui.guard import UiGuard
from modelyard.api.ui.mount import mount_ui
from modelyard.controller import Controller
from modelyard.services import Services, build_services
from modelyard.services.audit import AuditBackground
from modelyard.settings import Settings
from modelyard.storage.db import WalCheckpointer
from modelyard.version import __version__


def create_app(
    settings: Settings, services: Services | None = None, *, gateway: Notifier | None = None
) -> FastAPI:
    """Build the ASGI app. Pass ``services`` to share one container (tests do); else it is built here.
    ``gateway``: the gateway runs in another process, told of deployment changes through this."""
    svc = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        controller = Controller(svc) if svc.settings.controller else None
        app.state.controller = controller
        if controller is not None:
            controller.start()
        audit = AuditBackground(svc.audit)
        audit.start()
        checkpointer = WalCheckpointer(svc.db)
        checkpointer.start()
        try:
            yield
        finally:
            if controller is not None:
                controller.close()
            if gateway is not None:
                gateway.close()
            audit.close()  # writes the audit summaries still counting
            checkpointer.close()
            if services is None:
                svc.close()

    app = FastAPI(
        title="modelyard",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's OpenTelemetry hooks are not a feature of modelyard (its metrics are /metrics), and
        # looking up the global providers on every request cost ~3% of a runs/log-batch call
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = svc
    install_error_handlers(app)
    mount_docs(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    mount_mlflow(app)
    mount_resources(app)
    ui_pages = mount_ui(app, auth=svc.settings.auth)
    # inside the authentication: the guard's CSRF check needs the session it found
    app.add_middleware(UiGuard, pages=ui_pages)
    app.add_middleware(HotRoutes)  # inside authentication: the principal is set
    app.add_middleware(AuthMiddleware, services=svc)
    app.add_middleware(BodySizeLimit, max_bytes=svc.settings.max_request_bytes)
    app.add_middleware(RequestLineGuard)
    if gateway is not None:
        app.state.gateway_metrics = None
        svc.deployments.subscribe(gateway.routes_changed)
    else:
        app.state.gateway_metrics = gateway_metrics = GatewayMetrics()
        # Prediction requests under /deployment/<name>/ go straight to the replicas, past the platform's
        # routing and middleware; the gateway authenticates them itself.
        app.add_middleware(
            Gateway,
            settings=svc.settings,
            deployments=svc.deployments,
            identity=svc.identity,
            metrics=gateway_metrics,
        )
    # Outermost: an exception nothing else answered ends here, with a 500 and a usable connection.
    app.add_middleware(UnexpectedErrors)
    return app
