"""A browser's session for the UI benchmarks: the web UI's pages and its ``/ui/data`` JSON take the
session cookie only (never the API's Authorization header), so a benchmark logs in through the form
with an API token pasted in, as a person can."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]*)">')


def login(client: httpx.Client, token: str) -> None:
    """Log ``client`` in (it keeps the cookie) with the API token ``token``."""
    found = _CSRF.search(client.get("/login").text)
    if found is None:
        raise RuntimeError("the login page has no CSRF token")
    r = client.post("/login", data={"token": token, "csrf_token": found.group(1), "next": "/"})
    if r.status_code != 303:
        raise RuntimeError(f"login refused: HTTP {r.status_code} {r.text[:300]}")
