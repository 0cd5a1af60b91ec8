"""``GET /metrics``: the server's Prometheus series — the gateway's request counters and latency
(rendered here when the gateway runs in this app; the gateway process appends its own otherwise),
each deployment's desired and ready replicas and phase (read from the database at scrape time), and
the tracking writes this server committed (runs created, metric values, params, tags and dataset
inputs logged).

Platform admins only: the series name every deployment of every group. Scrape with an admin token
(``Authorization: Bearer ...``), e.g. one made for a dedicated ``prometheus`` admin user.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelyard.api.deps import principal
from modelyard.domain.deployments import Phase
from modelyard.domain.identity import Principal
from modelyard.services.tracking.stats import TrackingStats
from modelyard.serving.metrics import Counter, Gauge

router = APIRouter()
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _deployment_series(rows: list[dict[str, object]]) -> list[str]:
    desired = Gauge("modelyard_deployment_replicas_desired", "Replicas the spec asks for.", ("deployment",))
    ready = Gauge("modelyard_deployment_replicas_ready", "Replicas ready to serve.", ("deployment",))
    phase = Gauge(
        "modelyard_deployment_phase", "1 for the deployment's current phase.", ("deployment", "phase")
    )
    for row in rows:
        name = str(row["name"])
        desired.set(float(row["desired"]), (name,))  # type: ignore[arg-type]
        ready.set(float(row["ready"]), (name,))  # type: ignore[arg-type]
        for p in Phase:
            phase.set(1.0 if row["phase"] == p.value else 0.0, (name, p.value))
    lines: list[str] = []
    for series in (desired, ready, phase):
        lines += series.header()
        lines += series.lines()
    return lines


def _tracking_series(stats: TrackingStats) -> list[str]:
    writes = Counter(
        "modelyard_tracking_writes_total",
        "Tracking writes committed by this server: runs created; metric values, params, tags and "
        "dataset inputs logged.",
        ("kind",),
    )
    for kind, count in stats.snapshot().items():
        writes.inc((kind,), float(count))
    return [*writes.header(), *writes.lines()]


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, actor: Principal = Depends(principal)) -> Response:
    actor.require_platform_admin(what="Reading the server's metrics")
    services = request.app.state.services
    rows = await run_in_threadpool(services.deployments.metrics_rows)
    gateway_metrics = request.app.state.gateway_metrics  # None: the gateway's process adds its own
    gateway = gateway_metrics.render() if gateway_metrics is not None else b""
    lines = _deployment_series(rows) + _tracking_series(services.tracking.stats)
    body = gateway + ("\n".join(lines) + "\n").encode()
    return Response(body, media_type=CONTENT_TYPE)
