"""Which URLs are the web UI's. Only these accept the session cookie (the API accepts only the
Authorization header, so a cookie can never make an API call a browser did not mean to), and only
their state-changing requests need a CSRF token. A new page under a new first segment is added to
``PAGE_ROOTS``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOGIN = "/login"
STATIC_PREFIX = "/static/ui"
FRAGMENTS_PREFIX = "/ui/fragments"
DATA_PREFIX = "/ui/data"

# first path segments of pages (``/experiments`` and everything under it)
PAGE_ROOTS = frozenset(
    {
        "login",
        "logout",
        "account",
        "experiments",
        "runs",
        "compare",
        "models",
        "datasets",
        "deployments",
        "ui",
    }
)
# reachable without a session: the login page and the files it needs
PUBLIC = (LOGIN, STATIC_PREFIX + "/")


def is_ui_path(path: str) -> bool:
    if path == "/" or path.startswith(STATIC_PREFIX + "/"):
        return True
    return path.split("/", 2)[1] in PAGE_ROOTS


def is_public(path: str) -> bool:
    return path == LOGIN or path.startswith(PUBLIC[1])


def is_data_path(path: str) -> bool:
    """Chart data and other JSON the UI's scripts fetch: refusals there are JSON, not pages."""
    return path.startswith(DATA_PREFIX + "/")


def safe_next(target: str | None, default: str = "/") -> str:
    """Where to go after logging in: a path on this site, never another site (``//evil``,
    ``/\\evil``, ``https://evil``, control characters), else ``default``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
