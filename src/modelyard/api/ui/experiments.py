"""The experiments pages: the list (also the root page, which first sends MLflow's hash links on:
``static/js/hash-routes.js``), one experiment's page (its runs table is another module's), and the
forms that create, rename, delete and restore experiments.

Everything goes through ``ExperimentService`` with the signed-in user, as the API does: the list is
its search (so a user sees what the API's experiments search shows them), and each change is its
call (so it is authorized and audited there). The list's state — search text, deleted shown, sort,
page — is in the query string. A form's refusal is shown next to the field with what was typed
(status 400); a success redirects back to the list it came from, saying what was done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from modelyard.api.deps import services
from modelyard.api.ui.deps import page_user, templates
from modelyard.api.ui.paths import safe_next
from modelyard.domain.errors import DomainError, NotFound
from modelyard.domain.identity import Principal, Role
from modelyard.domain.tracking import LifecycleStage, ViewType
from modelyard.services import Services
from modelyard.services.tracking.overview import ExperimentSummary, experiment_summaries, summarize

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
SORTS = {"name": "name", "created": "creation_time"}
DONE = {
    "created": "Experiment '{}' created.",
    "renamed": "Experiment renamed to '{}'.",
    "deleted": "Experiment '{}' deleted; its runs too. Show deleted experiments to restore it.",
    "restored": "Experiment '{}' restored, with its runs.",
}


@dataclass
class ListQuery:
    """The list's state, read from (and written back to) the query string."""

    q: str = ""
    deleted: bool = False
    sort: str = "name"
    desc: bool = False
    page: str = ""
    problems: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: dict[str, str]) -> ListQuery:
        query = cls(q=params.get("q", "").strip()[:500], deleted=params.get("deleted") == "1")
        sort = params.get("sort", "name")
        if sort in SORTS:
            query.sort = sort
        else:
            query.problems.append(f"Unknown sort '{sort[:40]}': sort by name or created.")
        query.desc = params.get("dir") == "desc"
        query.page = params.get("page", "")
        return query

    def url(self, **changes: Any) -> str:
        values = {"q": self.q, "deleted": "1" if self.deleted else "", "sort": self.sort}
        values["dir"] = "desc" if self.desc else ""
        values.update({k: v for k, v in changes.items()})
        if values["sort"] == "name":
            values["sort"] = ""
        kept = {k: v for k, v in values.items() if v}
        return "/experiments" + (f"?{urlencode(kept)}" if kept else "")

    def sort_url(self, column: str) -> str:
        desc = not self.desc if self.sort == column else column != "name"
        return self.url(sort=column, dir="desc" if desc else "", page="")

    def aria_sort(self, column: str) -> str:
        if self.sort != column:
            return "none"
        return "descending" if self.desc else "ascending"


def _writable_groups(svc: Services, user: Principal) -> list[str]:
    """The groups the user can create experiments in (member or admin), by name."""
    if user.is_admin:
        return [g.name for g in svc.identity.list_groups(user)]
    return [name for name, role in svc.identity.role_names(user).items() if Role.parse(role) >= Role.MEMBER]


def _list_context(request: Request, user: Principal, query: ListQuery) -> dict[str, Any]:
    svc = services(request)
    rows: list[ExperimentSummary] = []
    token: str | None = None
    error = ""
    if not query.problems:
        try:
            rows, token = experiment_summaries(
                svc.experiments,
                user,
                name_contains=query.q or None,
                view_type=ViewType.ALL if query.deleted else ViewType.ACTIVE_ONLY,
                order_by=[f"{SORTS[query.sort]} {'DESC' if query.desc else 'ASC'}", "experiment_id ASC"],
                page_token=query.page or None,
                max_results=PAGE_SIZE,
            )
        except DomainError as exc:
            error = exc.message
    else:
        error = " ".join(query.problems)
    return {
        "query": query,
        "rows": rows,
        "next_url": query.url(page=token) if token else "",
        "first_url": query.url(page="") if query.page else "",
        "list_error": error,
        "writable_groups": _writable_groups(svc, user),
        "form": {"name": "", "group": "", "error": ""},
        "done": "",
        "server_url": str(request.base_url).rstrip("/"),
        "back": query.url(page=query.page),
    }


def _done_message(request: Request, user: Principal) -> str:
    action, eid = request.query_params.get("done", ""), request.query_params.get("id", "")
    if action not in DONE or not eid:
        return ""
    try:
        name = services(request).experiments.get_experiment(user, eid).name
    except DomainError:
        return ""
    return DONE[action].format(name)


def _render_list(
    request: Request, user: Principal, *, hash_routes: bool, status_code: int = 200, **extra: Any
) -> Response:
    query = ListQuery.parse(dict(request.query_params))
    context = _list_context(request, user, query)
    context.update(hash_routes=hash_routes, done=_done_message(request, user), **extra)
    page = templates(request)
    headers = {}
    if request.headers.get("hx-request"):
        shown = len(context["rows"])
        headers["HX-Trigger"] = _announce(f"{shown} experiment{'s' if shown != 1 else ''} shown")
    return page.render(
        request,
        "experiments/list.html",
        context,
        section="experiments",
        status_code=status_code,
        headers=headers,
    )


def _announce(text: str) -> str:
    return json.dumps({"modelyard:announce": text})


@router.get("/")
def root(request: Request, user: Principal = Depends(page_user)) -> Response:
    """The experiments list; ``static/js/hash-routes.js`` first sends an MLflow link
    (``/#/experiments/2/runs/<id>``) to its page."""
    return _render_list(request, user, hash_routes=True)


@router.get("/experiments")
def experiments(request: Request, user: Principal = Depends(page_user)) -> Response:
    return _render_list(request, user, hash_routes=False)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _back(form: FormData, action: str, eid: str) -> str:
    """The list the form was sent from (a local /experiments URL only), saying what was done."""
    target = safe_next(_text(form, "back"), "/experiments")
    parts = urlsplit(target)
    if parts.path not in ("/", "/experiments") and not parts.path.startswith("/experiments/"):
        parts = urlsplit("/experiments")
    params = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("done", "id")]
    params += [("done", action), ("id", eid)]
    return f"{parts.path}?{urlencode(params)}"


def _redirect(request: Request, target: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/experiments")
async def create(request: Request, user: Principal = Depends(page_user)) -> Response:
    form = await request.form()
    name, group = _text(form, "name"), _text(form, "group")
    svc = services(request)
    try:
        eid = await run_in_threadpool(svc.experiments.create_experiment, user, name=name, group=group or None)
    except DomainError as exc:
        form_state = {"name": name, "group": group, "error": exc.message}
        return await run_in_threadpool(
            _render_list, request, user, hash_routes=False, status_code=400, form=form_state
        )
    return _redirect(request, _back(form, "created", eid))


def render_experiment(
    request: Request, user: Principal, experiment_id: str, *, status_code: int = 200, **extra: Any
) -> Response:
    """One experiment's page: its facts and forms, and (from ``extra``) its runs table, whose route
    is ``runs_table.experiment_page``."""
    svc = services(request)
    found = svc.experiments.get_experiment(user, experiment_id)
    context = {
        "experiment": found,
        "summary": summarize(svc.experiments, [found])[0],
        "deleted": found.lifecycle_stage == LifecycleStage.DELETED,
        "rename": {"name": found.name, "error": ""},
        "back": f"/experiments/{found.experiment_id}",
        "done": _done_message(request, user),
        **extra,
    }
    return templates(request).render(
        request, "runs_table/experiment.html", context, section="experiments", status_code=status_code
    )


@router.get("/ui/fragments/experiments/{experiment_id}/rename")
def rename_form(
    request: Request, experiment_id: str, back: str = "", user: Principal = Depends(page_user)
) -> Response:
    """The inline rename form of a row of the list (htmx swaps it into the name's cell)."""
    found = services(request).experiments.get_experiment(user, experiment_id)
    context = {"experiment": found, "rename": {"name": found.name, "error": ""}, "back": back}
    return templates(request).render(request, "experiments/_rename.html", context)


@router.post("/experiments/{experiment_id}/rename")
async def rename(request: Request, experiment_id: str, user: Principal = Depends(page_user)) -> Response:
    form = await request.form()
    name = _text(form, "name")
    svc = services(request)
    try:
        await run_in_threadpool(svc.experiments.rename_experiment, user, experiment_id, name)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        rename_state = {"name": name, "error": exc.message}
        if request.headers.get("hx-request"):
            found = await run_in_threadpool(svc.experiments.get_experiment, user, experiment_id)
            context = {"experiment": found, "rename": rename_state, "back": _text(form, "back")}
            return templates(request).render(request, "experiments/_rename.html", context, status_code=400)
        return await run_in_threadpool(
            render_experiment, request, user, experiment_id, status_code=400, rename=rename_state
        )
    return _redirect(request, _back(form, "renamed", experiment_id))


async def _set_stage(
    request: Request, user: Principal, experiment_id: str, stage: LifecycleStage
) -> Response:
    form = await request.form()
    svc = services(request)
    await run_in_threadpool(svc.experiments.set_lifecycle, user, experiment_id, stage)
    action = "deleted" if stage == LifecycleStage.DELETED else "restored"
    return _redirect(request, _back(form, action, experiment_id))


@router.post("/experiments/{experiment_id}/delete")
async def delete(request: Request, experiment_id: str, user: Principal = Depends(page_user)) -> Response:
    return await _set_stage(request, user, experiment_id, LifecycleStage.DELETED)


@router.post("/experiments/{experiment_id}/restore")
async def restore(request: Request, experiment_id: str, user: Principal = Depends(page_user)) -> Response:
    return await _set_stage(request, user, experiment_id, LifecycleStage.ACTIVE)
