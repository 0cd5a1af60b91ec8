"""Pages that exist in the navigation before their real page does. Whoever builds one of these
pages removes its entry here."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from modelyard.api.ui.deps import page_user, templates
from modelyard.domain.identity import Principal

router = APIRouter(include_in_schema=False)

PLACEHOLDERS = {
    "deployments": (
        "Deployments",
        "The deployments pages come with a later release. Meanwhile, the CLI lists them: modelyard deploy list.",
    ),
}


def _placeholder(section: str) -> object:
    title, text = PLACEHOLDERS[section]

    def page(request: Request, user: Principal = Depends(page_user)) -> Response:
        context = {"title": title, "text": text}
        return templates(request).render(request, "placeholder.html", context, section=section)

    return page


for _section in PLACEHOLDERS:
    router.add_api_route(f"/{_section}", _placeholder(_section), methods=["GET"])  # type: ignore[arg-type]
