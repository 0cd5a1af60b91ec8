"""The experiments pages: the list (also the root page, which reads MLflow's hash links) and one
experiment's page (its runs table is another module's)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from modelyard.api.deps import services
from modelyard.api.ui.deps import page_user, templates
from modelyard.domain.identity import Principal

router = APIRouter(include_in_schema=False)


@router.get("/")
def root(request: Request, user: Principal = Depends(page_user)) -> Response:
    """The experiments list; ``static/js/hash-routes.js`` first sends an MLflow link
    (``/#/experiments/2/runs/<id>``) to its page."""
    return _list(request, user, hash_routes=True)


@router.get("/experiments")
def experiments(request: Request, user: Principal = Depends(page_user)) -> Response:
    return _list(request, user, hash_routes=False)


def _list(request: Request, user: Principal, *, hash_routes: bool) -> Response:
    found, _ = services(request).experiments.search(user, max_results=1000)
    context = {"experiments": found, "hash_routes": hash_routes}
    return templates(request).render(request, "experiments/list.html", context, section="experiments")


@router.get("/experiments/{experiment_id}")
def experiment(request: Request, experiment_id: str, user: Principal = Depends(page_user)) -> Response:
    found = services(request).experiments.get_experiment(user, experiment_id)
    context = {"experiment": found}
    return templates(request).render(request, "experiments/page.html", context, section="experiments")
