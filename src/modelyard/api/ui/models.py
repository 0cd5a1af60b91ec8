"""The model registry's pages: the models list (with its results as an htmx fragment), one model
(description, tags, aliases, versions; rename, delete) and one version (signature, input example,
source run, lineage, deployments; description, tags, aliases, stage).

Reads and changes go through the registry service with the signed-in user, so what a user sees and
may change is what the API allows, and every change is in the audit trail. A change is a plain form
POST answered with a redirect to the page that shows it; a refused value is shown next to its field
(the page again, status 400 or 409, with what was typed).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from modelyard.api.deps import services
from modelyard.api.ui import links
from modelyard.api.ui.deps import page_user, templates
from modelyard.api.ui.links import LINKS
from modelyard.api.ui.paths import FRAGMENTS_PREFIX
from modelyard.api.ui.registry_pages import (
    SAVED,
    Refusal,
    model_context,
    refused,
    version_context,
)
from modelyard.domain.errors import DomainError, InvalidParameter
from modelyard.domain.identity import Principal
from modelyard.domain.registry import REGISTERED_MODELS

router = APIRouter(include_in_schema=False)

LIST_PAGE = 50
SORTS = {
    "name": "name ASC",
    "-name": "name DESC",
    "updated": "last_updated_timestamp ASC",
    "-updated": "last_updated_timestamp DESC",
}
SECTION = "models"


# ---- the list ---------------------------------------------------------------------------------------
def _list_context(
    request: Request, user: Principal, q: str, filter_text: str, sort: str, page: str
) -> tuple[dict[str, Any], int]:
    if sort not in SORTS:
        raise InvalidParameter(f"Invalid sort '{sort}': use one of {', '.join(SORTS)}.")
    context: dict[str, Any] = {
        "q": q,
        "filter": filter_text,
        "sort": sort,
        "page": page,
        "links": LINKS,
        "models": [],
        "next_page": None,
        "filter_error": None,
        "filter_clause": None,
        "any_models": True,
        "tracking_uri": str(request.base_url).rstrip("/"),
    }
    try:
        REGISTERED_MODELS.parse_filter(filter_text)
    except InvalidParameter as exc:
        context["filter_error"] = exc.message
        context["filter_clause"] = getattr(exc, "clause", None)  # where the grammar can say it
        return context, 400
    svc = services(request).registry
    found, token = svc.search_registered_models(
        user,
        filter_string=filter_text or None,
        order_by=[SORTS[sort]],
        max_results=LIST_PAGE,
        page_token=page or None,
        name_contains=q or None,
    )
    context["models"], context["next_page"] = found, token
    if not found and not page and (q or filter_text):
        # say whether anything is registered at all: an empty registry gets the how-to instead
        context["any_models"] = bool(svc.search_registered_models(user, max_results=1)[0])
    elif not found and not page:
        context["any_models"] = False
    return context, 200


def _page_url(q: str, filter_text: str, sort: str, page: str) -> str:
    return links.query("/models", q=q, filter=filter_text, sort="" if sort == "name" else sort, page=page)


@router.get("/models")
def models_page(
    request: Request,
    user: Principal = Depends(page_user),
    q: str = "",
    filter_text: str = Query("", alias="filter"),
    sort: str = "name",
    resort: str = "",
    page: str = "",
) -> Response:
    if resort:  # a column header's button: a new order starts again at the first page
        sort, page = resort, ""
    context, status = _list_context(request, user, q, filter_text, sort, page)
    return templates(request).render(
        request, "models/list.html", context, status_code=status, section=SECTION
    )


@router.get(f"{FRAGMENTS_PREFIX}/models")
def models_fragment(
    request: Request,
    user: Principal = Depends(page_user),
    q: str = "",
    filter_text: str = Query("", alias="filter"),
    sort: str = "name",
    resort: str = "",
    page: str = "",
) -> Response:
    """The list's results (what the search box and the column headers ask for), with the page's URL
    to push into the address bar."""
    if resort:
        sort, page = resort, ""
    context, status = _list_context(request, user, q, filter_text, sort, page)
    count = len(context["models"])
    said = f"{count} model{'s' if count != 1 else ''} shown" + (
        ", more on the next page" if context["next_page"] else ""
    )
    headers = {
        "HX-Push-Url": _page_url(q, filter_text, sort, page),
        "HX-Trigger": json.dumps({"modelyard:announce": said}),
    }
    return templates(request).render(
        request, "models/_results.html", context, status_code=status, section=SECTION, headers=headers
    )


# ---- one model --------------------------------------------------------------------------------------
@router.get("/models/{name}")
def model_page(
    request: Request, name: str, user: Principal = Depends(page_user), below: str = "", saved: str = ""
) -> Response:
    context = model_context(services(request), user, name, below=below, saved=SAVED.get(saved))
    return templates(request).render(request, "models/page.html", context, section=SECTION)


def _model_change(request: Request, user: Principal, name: str, change: Any, refusal: Refusal) -> Response:
    """Carry out a change of a model; on a refused value, the model page with the message at its field."""
    try:
        change()
    except DomainError as exc:
        refused(exc)
        context = model_context(services(request), user, name, refusal=refusal.with_message(exc.message))
        return templates(request).render(
            request, "models/page.html", context, status_code=refusal.status(exc), section=SECTION
        )
    return RedirectResponse(links.query(links.model(name), saved=refusal.saved), status_code=303)


@router.post("/models/{name}/description")
def model_description(
    request: Request, name: str, user: Principal = Depends(page_user), description: str = Form("")
) -> Response:
    registry = services(request).registry
    return _model_change(
        request,
        user,
        name,
        lambda: registry.update_registered_model(user, name, description),
        Refusal("description", {"description": description}, "description"),
    )


@router.post("/models/{name}/tags")
def model_set_tag(
    request: Request,
    name: str,
    user: Principal = Depends(page_user),
    key: str = Form(""),
    value: str = Form(""),
) -> Response:
    registry = services(request).registry
    return _model_change(
        request,
        user,
        name,
        lambda: registry.set_registered_model_tag(user, name, key.strip(), value),
        Refusal("tag", {"key": key, "value": value}, "tag"),
    )


@router.post("/models/{name}/tags/delete")
def model_delete_tag(
    request: Request, name: str, user: Principal = Depends(page_user), key: str = Form("")
) -> Response:
    registry = services(request).registry
    return _model_change(
        request,
        user,
        name,
        lambda: registry.delete_registered_model_tag(user, name, key),
        Refusal("tag", {"key": key}, "tag_deleted"),
    )


@router.post("/models/{name}/rename")
def model_rename(
    request: Request, name: str, user: Principal = Depends(page_user), new_name: str = Form("")
) -> Response:
    registry = services(request).registry
    try:
        renamed = registry.rename_registered_model(user, name, new_name.strip())
    except DomainError as exc:
        refused(exc)
        refusal = Refusal("rename", {"new_name": new_name}, "").with_message(exc.message)
        context = model_context(services(request), user, name, refusal=refusal)
        return templates(request).render(
            request, "models/page.html", context, status_code=refusal.status(exc), section=SECTION
        )
    return RedirectResponse(links.query(links.model(renamed.name), saved="renamed"), status_code=303)


@router.post("/models/{name}/delete")
def model_delete(
    request: Request, name: str, user: Principal = Depends(page_user), confirm: str = Form("")
) -> Response:
    registry = services(request).registry

    def delete() -> None:
        if confirm != name:
            registry.get_registered_model(user, name)  # a missing model is a 404, not a typo
            raise InvalidParameter(
                "The model was not deleted: type its name exactly as shown to confirm the deletion."
            )
        registry.delete_registered_model(user, name)

    try:
        delete()
    except DomainError as exc:
        refused(exc)
        refusal = Refusal("delete", {"confirm": confirm}, "").with_message(exc.message)
        context = model_context(services(request), user, name, refusal=refusal)
        return templates(request).render(
            request, "models/page.html", context, status_code=refusal.status(exc), section=SECTION
        )
    return RedirectResponse("/models?saved=deleted", status_code=303)


# ---- one version ------------------------------------------------------------------------------------
@router.get("/models/{name}/versions/{version}")
def version_page(
    request: Request, name: str, version: str, user: Principal = Depends(page_user), saved: str = ""
) -> Response:
    context = version_context(services(request), user, name, version, saved=SAVED.get(saved))
    return templates(request).render(request, "models/version.html", context, section=SECTION)


def _version_change(
    request: Request, user: Principal, name: str, version: str, change: Any, refusal: Refusal
) -> Response:
    try:
        change()
    except DomainError as exc:
        refused(exc)
        context = version_context(
            services(request), user, name, version, refusal=refusal.with_message(exc.message)
        )
        return templates(request).render(
            request, "models/version.html", context, status_code=refusal.status(exc), section=SECTION
        )
    return RedirectResponse(links.query(links.version(name, version), saved=refusal.saved), status_code=303)


@router.post("/models/{name}/versions/{version}/description")
def version_description(
    request: Request,
    name: str,
    version: str,
    user: Principal = Depends(page_user),
    description: str = Form(""),
) -> Response:
    registry = services(request).registry
    return _version_change(
        request,
        user,
        name,
        version,
        lambda: registry.update_model_version(user, name, version, description),
        Refusal("description", {"description": description}, "description"),
    )


@router.post("/models/{name}/versions/{version}/tags")
def version_set_tag(
    request: Request,
    name: str,
    version: str,
    user: Principal = Depends(page_user),
    key: str = Form(""),
    value: str = Form(""),
) -> Response:
    registry = services(request).registry
    return _version_change(
        request,
        user,
        name,
        version,
        lambda: registry.set_model_version_tag(user, name, version, key.strip(), value),
        Refusal("tag", {"key": key, "value": value}, "tag"),
    )


@router.post("/models/{name}/versions/{version}/tags/delete")
def version_delete_tag(
    request: Request, name: str, version: str, user: Principal = Depends(page_user), key: str = Form("")
) -> Response:
    registry = services(request).registry
    return _version_change(
        request,
        user,
        name,
        version,
        lambda: registry.delete_model_version_tag(user, name, version, key),
        Refusal("tag", {"key": key}, "tag_deleted"),
    )


@router.post("/models/{name}/versions/{version}/aliases")
def version_set_alias(
    request: Request, name: str, version: str, user: Principal = Depends(page_user), alias: str = Form("")
) -> Response:
    registry = services(request).registry
    return _version_change(
        request,
        user,
        name,
        version,
        lambda: registry.set_alias(user, name, alias.strip(), version),
        Refusal("alias", {"alias": alias}, "alias"),
    )


@router.post("/models/{name}/versions/{version}/aliases/delete")
def version_delete_alias(
    request: Request, name: str, version: str, user: Principal = Depends(page_user), alias: str = Form("")
) -> Response:
    registry = services(request).registry
    return _version_change(
        request,
        user,
        name,
        version,
        lambda: registry.delete_alias(user, name, alias),
        Refusal("alias", {"alias": alias}, "alias_deleted"),
    )


@router.post("/models/{name}/versions/{version}/stage")
def version_stage(
    request: Request,
    name: str,
    version: str,
    user: Principal = Depends(page_user),
    stage: str = Form(""),
    archive_existing: str = Form(""),
) -> Response:
    registry = services(request).registry
    archive = archive_existing == "on"
    return _version_change(
        request,
        user,
        name,
        version,
        lambda: registry.transition_stage(user, name, version, stage, archive_existing_versions=archive),
        Refusal("stage", {"stage": stage, "archive_existing": "on" if archive else ""}, "stage"),
    )
