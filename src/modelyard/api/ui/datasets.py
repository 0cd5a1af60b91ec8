"""The datasets pages (ModelDB's): dataset names with their versions, and one dataset's page with the
versions table and the selected version's schema, profile and the runs that used it (with the model
versions registered from those runs).

A dataset's name may hold ``/``: its page's path takes the rest of the URL (``/datasets/a/b.csv``),
and the version shown is chosen with ``?version=<id>`` (the newest when absent). Everything is read
through the datasets service with the signed-in user: versions of other groups' experiments are not
there, and a name with none the user can see is the 404 page.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from modelyard.api.deps import services
from modelyard.api.ui import links
from modelyard.api.ui.deps import page_user, templates
from modelyard.api.ui.links import LINKS
from modelyard.api.ui.paths import FRAGMENTS_PREFIX
from modelyard.api.ui.schema_tables import dataset_profile, dataset_schema
from modelyard.domain.errors import NotFound
from modelyard.domain.identity import Principal
from modelyard.services.tracking.datasets import RUNS_PAGE

router = APIRouter(include_in_schema=False)
SECTION = "datasets"


def _list_context(request: Request, user: Principal, q: str, after: str) -> dict[str, Any]:
    found, next_after = services(request).datasets.list_datasets(
        user, name_contains=q or None, after=after or None
    )
    return {"q": q, "after": after, "datasets": found, "next_after": next_after, "links": LINKS}


@router.get("/datasets")
def datasets_page(
    request: Request, user: Principal = Depends(page_user), q: str = "", after: str = ""
) -> Response:
    context = _list_context(request, user, q, after)
    return templates(request).render(request, "datasets/list.html", context, section=SECTION)


@router.get(f"{FRAGMENTS_PREFIX}/datasets")
def datasets_fragment(
    request: Request, user: Principal = Depends(page_user), q: str = "", after: str = ""
) -> Response:
    """The list's results for the search box, with the page's URL to push into the address bar."""
    context = _list_context(request, user, q, after)
    count = len(context["datasets"])
    headers = {
        "HX-Push-Url": links.query("/datasets", q=q, after=after),
        "HX-Trigger": json.dumps({"modelyard:announce": f"{count} dataset{'' if count == 1 else 's'} shown"}),
    }
    return templates(request).render(
        request, "datasets/_results.html", context, section=SECTION, headers=headers
    )


@router.get("/datasets/{name:path}")
def dataset_page(
    request: Request,
    name: str,
    user: Principal = Depends(page_user),
    version: str = "",
    runs_from: int = Query(0, ge=0, le=2**31 - 1),
) -> Response:
    if not name:
        return RedirectResponse("/datasets", status_code=307)
    svc = services(request)
    versions = svc.datasets.dataset_versions(user, name)
    selected = versions[0]
    if version:
        chosen = [v for v in versions if v.dataset_id == version]
        if not chosen:
            raise NotFound(
                f"Dataset '{name}' has no version with id={version} (or you do not have access to it)."
            )
        selected = chosen[0]
    runs, total = svc.datasets.dataset_runs(user, selected.dataset_id, offset=runs_from)
    context = {
        "name": name,
        "versions": versions,
        "selected": selected,
        "schema": dataset_schema(selected.schema),
        "profile": dataset_profile(selected.profile),
        "runs": runs,
        "run_total": total,
        "runs_from": runs_from,
        "runs_page": RUNS_PAGE,
        "model_versions": svc.registry.versions_from_runs(user, [r.run_id for r in runs]),
        "links": LINKS,
    }
    return templates(request).render(request, "datasets/page.html", context, section=SECTION)
