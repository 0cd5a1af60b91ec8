"""The run page, ``/runs/{run_id}``: a header and three tabs, each its own URL (``?tab=``):

* ``overview`` (the default): status, times, user, source and git, environment, parent and
  children, datasets, logged models and the registered model versions made from the run; the
  description, params, metrics (latest, min, max, points) and tags, of which the description and
  the tags not starting with ``mlflow.`` can be changed here (htmx posts, each through
  ``TrackingService`` with the user, so each change is authorized and audited as the API's);
* ``charts``: metric charts, drawn by ``static/js/run.js`` from the chart data under ``/ui/data/``
  (``charts.py`` reads their settings from the URL);
* ``artifacts``: the artifact browser (``artifacts.py``).

The run is read with the signed-in user: another group's run is the same 404 page as a missing one.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.datastructures import QueryParams
from starlette.responses import RedirectResponse, Response

from modelyard.api.deps import services
from modelyard.api.errors import HTTP_STATUS
from modelyard.api.ui import charts
from modelyard.api.ui.artifact_preview import PREVIEW_LIMIT, TEXT_LIMIT
from modelyard.api.ui.artifacts import artifact_view
from modelyard.api.ui.deps import page_user, templates
from modelyard.api.ui.links import LINKS
from modelyard.api.ui.links import version as version_url
from modelyard.api.ui.run_overview import NOTE_TAG, SYSTEM_PREFIX, metric_number, overview, tag_lists
from modelyard.domain.errors import DomainError, InvalidParameter
from modelyard.domain.identity import Principal
from modelyard.services import Services
from modelyard.services.registry.convert import register_from_run

router = APIRouter(include_in_schema=False)

TABS = ("overview", "charts", "artifacts")
# what the templates use besides the page's data
HELPERS: dict[str, Any] = {
    "num": metric_number,
    "max_keys": charts.MAX_KEYS_PER_CHART,
    "preview_limit": PREVIEW_LIMIT,
    "text_limit": TEXT_LIMIT,
    "links": LINKS,
}


def _tab(raw: str | None) -> str:
    tab = raw or TABS[0]
    if tab not in TABS:
        raise InvalidParameter(
            f"Invalid value '{tab}' for parameter 'tab': expected one of {', '.join(TABS)}."
        )
    return tab


def _htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, user: Principal = Depends(page_user)) -> Response:
    return render_run(request, user, run_id, tab=_tab(request.query_params.get("tab")))


def render_run(
    request: Request,
    user: Principal,
    run_id: str,
    *,
    tab: str,
    status_code: int = 200,
    query: QueryParams | None = None,
    **extra: Any,
) -> Response:
    """The whole page for ``tab`` with the settings in ``query`` (default: the request's); ``extra``
    goes into the template (a form's inline message)."""
    svc = services(request)
    details = svc.run_details.details(user, run_id)
    q = request.query_params if query is None else query
    context: dict[str, Any] = {"d": details, "run": details.run, "tab": tab, **HELPERS}
    if tab == "overview":
        context.update(overview(svc, user, details))
    elif tab == "charts":
        context["charts"] = charts.settings(q, details.run)
    else:
        view = artifact_view(svc, details.run, q.get("path"), q.get("start"))
        context["artifacts"] = view
        context["models"] = _model_names(svc, user) if view.model_dir is not None else []
        if status_code == 200:
            status_code = view.status
    context.update(extra)
    return templates(request).render(
        request, "run/page.html", context, section="experiments", status_code=status_code
    )


def _model_names(svc: Services, user: Principal) -> list[str]:
    """Registered models the user can see, for the register form's suggestions (the first 200)."""
    found, _ = svc.registry.search_registered_models(user, max_results=200)
    return [m.name for m in found]


# ---- tags and description ------------------------------------------------------------------------
def _tags_answer(
    request: Request, user: Principal, run_id: str, *, status: int = 200, announce: str = "", **form: Any
) -> Response:
    """The tags section after a change (htmx), or the page again (a plain form post)."""
    if not _htmx(request):
        if status == 200:
            return RedirectResponse(f"/runs/{run_id}#tags", status_code=303)
        return render_run(request, user, run_id, tab="overview", status_code=status, tag_form=form)
    run = services(request).run_details.details(user, run_id)
    context = {"d": run, "run": run.run, "tag_form": form, **tag_lists(run.run), **HELPERS}
    headers = {"HX-Trigger": _announce(announce)} if announce else None
    return templates(request).render(request, "run/_tags.html", context, status_code=status, headers=headers)


def _announce(text: str) -> str:
    return json.dumps({"modelyard:announce": text})


def _refused(exc: DomainError) -> int:
    return HTTP_STATUS.get(exc.code, 400)


@router.post("/runs/{run_id}/tags")
def set_tag(
    request: Request,
    run_id: str,
    key: str = Form(default=""),
    value: str = Form(default=""),
    user: Principal = Depends(page_user),
) -> Response:
    key = key.strip()
    form = {"key": key, "value": value, "error": ""}
    if not key:
        form["error"] = "A tag needs a key."
    elif key.startswith(SYSTEM_PREFIX):
        form["error"] = (
            f"'{key}' is a system tag (keys starting with 'mlflow.' are set by MLflow clients); "
            "choose another key. The description is edited above."
        )
    if form["error"]:
        return _tags_answer(request, user, run_id, status=400, **form)
    try:
        services(request).tracking.log_batch(user, run_id, tags={key: value})
    except DomainError as exc:
        form["error"] = exc.message
        return _tags_answer(request, user, run_id, status=_refused(exc), **form)
    return _tags_answer(request, user, run_id, announce=f"Tag {key} saved")


@router.post("/runs/{run_id}/tags/delete")
def delete_tag(
    request: Request, run_id: str, key: str = Form(default=""), user: Principal = Depends(page_user)
) -> Response:
    form = {"key": "", "value": "", "error": ""}
    if key.startswith(SYSTEM_PREFIX):
        form["error"] = f"'{key}' is a system tag: it cannot be deleted here."
        return _tags_answer(request, user, run_id, status=400, **form)
    try:
        services(request).tracking.delete_tag(user, run_id, key)
    except DomainError as exc:
        form["error"] = exc.message
        return _tags_answer(request, user, run_id, status=_refused(exc), **form)
    return _tags_answer(request, user, run_id, announce=f"Tag {key} deleted")


@router.post("/runs/{run_id}/description")
def set_description(
    request: Request, run_id: str, description: str = Form(default=""), user: Principal = Depends(page_user)
) -> Response:
    svc = services(request)
    error, status = "", 200
    try:
        if description.strip():
            svc.tracking.log_batch(user, run_id, tags={NOTE_TAG: description})
        elif NOTE_TAG in svc.tracking.get_run(user, run_id).tags:
            svc.tracking.delete_tag(user, run_id, NOTE_TAG)
    except DomainError as exc:
        error, status = exc.message, _refused(exc)
    if not _htmx(request):
        if not error:
            return RedirectResponse(f"/runs/{run_id}#description", status_code=303)
        return render_run(
            request,
            user,
            run_id,
            tab="overview",
            status_code=status,
            description_error=error,
            description_value=description,
        )
    details = svc.run_details.details(user, run_id)
    context = {
        "d": details,
        "run": details.run,
        "description_error": error,
        "description_value": description if error else None,
    }
    headers = None if error else {"HX-Trigger": _announce("Description saved")}
    return templates(request).render(
        request, "run/_description.html", context, status_code=status, headers=headers
    )


# ---- register a model directory ------------------------------------------------------------------
@router.post("/runs/{run_id}/artifacts/register")
def register_model(
    request: Request,
    run_id: str,
    path: str = Form(default=""),
    name: str = Form(default=""),
    user: Principal = Depends(page_user),
) -> Response:
    """Register the model in the directory ``path`` as a new version of the model ``name`` (created in
    the run's group when there is none) with ``register_from_run``, which checks the MLmodel file and
    creates the version through the registry service with the user's rights; then go to the new
    version's page. A refusal is shown on the form, with what was typed."""
    name = name.strip()
    try:
        if not name:
            raise InvalidParameter(
                "Give the model a name: an existing model gets a new version, a new name a new model."
            )
        version = register_from_run(services(request), user, run_id, name=name, artifact_path=path or None)
    except DomainError as exc:
        return render_run(
            request,
            user,
            run_id,
            tab="artifacts",
            status_code=_refused(exc),
            query=QueryParams({"tab": "artifacts", "path": path}),
            register_form={"name": name, "error": exc.message},
        )
    return RedirectResponse(version_url(version.name, version.version), status_code=303)
