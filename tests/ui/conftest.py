"""UI fixtures: a test client with no credentials (it logs in through the login form), users with
passwords, and for the browser tests a real uvicorn server on a loopback port driven by Debian's
chromium through Playwright, with an axe check and screenshots under test-output/ui/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.conftest import LiveServer, UserCreds
from tests.ui.helpers import CHROMIUM, CHROMIUM_ARGS, login

ADMIN_PASSWORD = "admin-password"


@pytest.fixture
def admin_password(services: Services, admin: Principal) -> str:
    """The platform admin (the first server start's) with a password, for logging in."""
    services.identity.set_password(admin, "admin", ADMIN_PASSWORD)
    return ADMIN_PASSWORD


@pytest.fixture
def ui(app: FastAPI) -> Iterator[TestClient]:
    """A browser-like client: no Authorization header, cookies kept; not logged in."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def admin_ui(ui: TestClient, admin_password: str) -> TestClient:
    """The client logged in as the platform admin."""
    login(ui, "admin", admin_password)
    return ui


@pytest.fixture
def user_ui(app: FastAPI) -> Callable[[UserCreds], TestClient]:
    """A new client logged in as the given user (closed at the end of the test)."""
    clients: list[TestClient] = []

    def make(user: UserCreds) -> TestClient:
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        login(client, user.username, user.password)
        return client

    yield make  # type: ignore[misc]
    for client in clients:
        client.__exit__(None, None, None)


# ---- the browser ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, one per test worker."""
    if not CHROMIUM.exists():
        pytest.skip(
            "browser tests need Debian's chromium at /usr/bin/chromium (scripts/ensure-chromium.sh "
            "installs it; scripts/test.sh runs that)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def ui_server(app: FastAPI, admin_password: str) -> Iterator[LiveServer]:
    """The app (auth on) served by uvicorn on a loopback port; the admin has a password."""
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(browser: Any, ui_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies, no storage) on the live server. Script errors, console
    errors (a CSP violation is one) and a failed request fail the test, except the page itself (a
    test may expect a 404 page) and a 400 to htmx (a form's inline refusal)."""
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    problems: list[str] = []

    def console(message: Any) -> None:
        # a failed request is reported below, with its URL (the page itself may fail on purpose)
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def response(answer: Any) -> None:
        kind = answer.request.resource_type
        if answer.status >= 400 and kind != "document" and not (answer.status == 400 and kind == "xhr"):
            problems.append(f"{answer.status} {answer.request.method} {answer.url}")

    tab.on("console", console)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.on("response", response)
    yield tab
    context.close()
    assert not problems, f"the page logged errors: {problems}"
