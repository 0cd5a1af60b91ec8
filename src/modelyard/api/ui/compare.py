"""The compare page, ``/compare?runs=<id>,<id>,...``: two to ``MAX_COMPARE_RUNS`` runs side by side (a
diff table of their params, latest metrics and tags; overlaid metric charts; a scatter of any two params
or metrics; parallel coordinates). The runs may come from several experiments; those the user may not
read are counted with the missing ones, in one message that does not tell them apart. Every choice is
in the URL (``compare_view`` reads it); the charts' points come from ``/ui/data/series/many``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from modelyard.api.deps import services
from modelyard.api.ui.compare_view import MAX_SMOOTHING, X_AXES, build_view
from modelyard.api.ui.deps import page_user, templates
from modelyard.domain.charts import MAX_SERIES_KEYS
from modelyard.domain.compare import MAX_COMPARE_RUNS, parse_run_ids
from modelyard.domain.errors import InvalidParameter
from modelyard.domain.identity import Principal

router = APIRouter(include_in_schema=False)
TEMPLATE = "compare/page.html"


@router.get("/compare")
def compare(request: Request, user: Principal = Depends(page_user)) -> Response:
    page = templates(request)
    raw = request.query_params.get("runs", "")
    context: dict[str, Any] = {
        "runs_param": raw,
        "limit": MAX_COMPARE_RUNS,
        "keys_per_request": MAX_SERIES_KEYS,
        "x_axes": X_AXES,
        "max_smoothing": MAX_SMOOTHING,
        "view": None,
        "error": "",
        "not_found": [],
        "asked": 0,
        "empty": False,
    }
    try:
        ids = parse_run_ids(raw)
    except InvalidParameter as exc:
        context["error"] = exc.message
        return page.render(request, TEMPLATE, context, status_code=400, section="experiments")
    context["empty"] = not ids
    if ids:
        comparison = services(request).comparisons.compare(user, ids)
        context["asked"] = len(ids)
        context["not_found"] = comparison.not_found
        if comparison.runs:
            context["view"] = build_view(comparison, request.query_params)
    return page.render(request, TEMPLATE, context, section="experiments")
