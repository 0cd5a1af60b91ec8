"""What UI tests share: reading a page's CSRF token, logging a test client in, and the browser's
launch options."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "ui"

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]*)">')


def csrf_of(page: Response | str) -> str:
    """The CSRF token a page hands its forms and htmx requests."""
    text = page if isinstance(page, str) else page.text
    found = _CSRF.search(text)
    assert found is not None, "the page has no csrf-token meta tag"
    return found.group(1)


def login(client: TestClient, username: str, secret: str, *, token: bool = False) -> Response:
    """Log the client in through the login form (a password, or a pasted API token)."""
    csrf = csrf_of(client.get("/login"))
    data = {"token": secret} if token else {"username": username, "password": secret}
    response = client.post("/login", data={**data, "csrf_token": csrf, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


def post_form(client: TestClient, url: str, data: dict[str, str], *, page: str = "/experiments") -> Response:
    """POST a form as the page at ``page`` would: with its CSRF token."""
    csrf = csrf_of(client.get(page))
    return client.post(url, data={**data, "csrf_token": csrf}, follow_redirects=False)


# ---- in the browser (a Playwright page) ---------------------------------------------------------
def browser_login(page: Any, username: str, password: str, *, go: bool = True) -> None:
    """Log in through the login form (``go=False``: on the login page the browser is on already)."""
    if go:
        page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/login" not in url)


def check_axe(page: Any) -> None:
    """axe-core on the page as it is now: no serious or critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"axe on {page.url}: " + "; ".join(bad)


def screenshot(page: Any, name: str) -> None:
    """A full-page screenshot for a reviewer, under test-output/ui/ (not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
