"""The Jinja2 environment and ``render``: every page gets the same frame (the signed-in user and
their groups, the CSRF token, the navigation) and everything put into a template is escaped
(autoescape is on for every template; nothing is marked safe that a user wrote).

Static files are addressed with ``static_url('modelyard.css')``, which adds a hash of the file's
content as ``?v=``: the file can then be cached for a year, and a changed file has a new URL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from modelyard.api.ui.paths import STATIC_PREFIX
from modelyard.api.ui.security import csrf_token
from modelyard.domain.identity import Principal
from modelyard.ui import STATIC_DIR, TEMPLATES_DIR
from modelyard.version import __version__


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str
    href: str


# htmx: no eval, no scripts from swapped HTML (the CSP forbids them anyway), no history snapshots in
# localStorage (a back navigation asks the server: the URL is the state); a 400 (a form's inline
# refusal) is swapped in like a success, other errors are shown by static/js/app.js
HTMX_CONFIG = {
    "includeIndicatorStyles": False,
    "allowEval": False,
    "allowScriptTags": False,
    "historyCacheSize": 0,
    "refreshOnHistoryMiss": True,
    "selfRequestsOnly": True,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "400", "swap": True, "error": False},
        {"code": "[45]..", "swap": False, "error": True},
    ],
}

NAV = (
    NavEntry("experiments", "Experiments", "/experiments"),
    NavEntry("models", "Models", "/models"),
    NavEntry("datasets", "Datasets", "/datasets"),
    NavEntry("deployments", "Deployments", "/deployments"),
)


@cache
def _file_hash(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The URL of a file under ``modelyard/ui/static``, with its content hash (cached for a year)."""
    return f"{STATIC_PREFIX}/{name}?v={_file_hash(name)}"


def iso_time(ms: int | None) -> str:
    """Milliseconds since the epoch as ISO 8601 in UTC (for ``<time datetime=...>``)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def time_tag(ms: int | None, empty: str = "—") -> Markup:
    """A ``<time>`` element: UTC in the page (readable without JavaScript), localized to the browser's
    time zone by ``static/js/app.js``, which also puts the absolute time in its title."""
    if ms is None or ms <= 0:
        return Markup("<span>{}</span>").format(empty)
    iso = iso_time(ms)
    text = iso.replace("T", " ").replace("Z", " UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, text, text)


def _tojson_attr(value: Any) -> str:
    """JSON for an HTML attribute value (Jinja escapes it as the attribute is written)."""
    return json.dumps(value, separators=(",", ":"))


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static_url=static_url, nav=NAV, version=__version__, htmx_config=HTMX_CONFIG)
    env.filters.update(time=time_tag, iso_time=iso_time, jsonattr=_tojson_attr)
    return env


class Templates:
    """The UI's templates, bound to the app (built once in ``mount_ui``)."""

    def __init__(self, *, auth: bool) -> None:
        self.env = build_environment()
        self.auth = auth

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        section: str = "",
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """A page (or fragment) with the frame's context; ``section`` marks the nav entry shown current."""
        body = self.env.get_template(template).render(**self.frame(request, section), **(context or {}))
        return HTMLResponse(body, status_code=status_code, headers=headers)

    def frame(self, request: Request, section: str = "") -> dict[str, Any]:
        principal: Principal | None = getattr(request.state, "principal", None)
        groups: dict[str, str] = getattr(request.state, "ui_groups", None) or {}
        return {
            "request": request,
            "user": principal,
            "groups": groups,
            "auth": self.auth,
            "csrf_token": csrf_token(request.scope),
            "section": section,
        }
