"""The frame in a real browser (Debian's chromium): logging in, the header, the theme, MLflow's
hash links, the keyboard, and axe on each page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.conftest import ADMIN_PASSWORD
from tests.ui.helpers import browser_login, check_axe, screenshot

pytestmark = pytest.mark.browser


def test_login_with_a_password_shows_the_user_and_groups(
    page: Any, make_user: Callable[..., UserCreds]
) -> None:
    alice = make_user("alice", group="vision")
    page.goto("/experiments")
    assert "/login?next=/experiments" in page.url
    check_axe(page)
    screenshot(page, "login")
    browser_login(page, alice.username, alice.password, go=False)
    assert page.url.endswith("/experiments")
    header = page.locator("[data-current-user]")
    assert header.locator("[data-username]").inner_text() == "alice"
    assert "vision" in header.locator("[data-user-groups]").inner_text()
    check_axe(page)
    screenshot(page, "experiments")


def test_login_with_a_token(page: Any, make_user: Callable[..., UserCreds]) -> None:
    bob = make_user("bob", group="nlp")
    page.goto("/login")
    page.get_by_label("API token").fill(bob.token)
    page.get_by_role("button", name="Log in with the token").click()
    page.wait_for_url(lambda url: "/login" not in url)
    assert page.locator("[data-username]").inner_text() == "bob"


def test_a_wrong_password_is_said_inline(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in", exact=True).click()
    assert page.get_by_role("alert").inner_text() == "Invalid username or password."
    check_axe(page)


def test_dark_theme_persists_across_a_reload(page: Any) -> None:
    browser_login(page, "admin", ADMIN_PASSWORD)
    html = page.locator("html")
    page.get_by_label("Theme").select_option("dark")
    assert html.get_attribute("data-theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert page.evaluate("window.modelyard.theme().name") == "dark"
    page.reload()
    assert html.get_attribute("data-theme") == "dark"
    assert page.get_by_label("Theme").input_value() == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == background
    check_axe(page)
    screenshot(page, "experiments-dark")
    page.get_by_label("Theme").select_option("light")
    assert html.get_attribute("data-theme") == "light"


def test_theme_change_fires_an_event_for_charts(page: Any) -> None:
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.evaluate(
        "window.__themes = []; document.addEventListener('modelyard:themechange',"
        " e => window.__themes.push(e.detail.name))"
    )
    page.get_by_label("Theme").select_option("dark")
    page.get_by_label("Theme").select_option("light")
    assert page.evaluate("window.__themes") == ["dark", "light"]
    colours = page.evaluate("window.modelyard.theme()")
    assert colours["background"] and len(colours["series"]) == 8


def test_an_mlflow_hash_link_lands_on_the_experiment_page(
    page: Any, services: Services, admin: Principal
) -> None:
    eid = services.experiments.create_experiment(admin, name="hash-target")
    page.goto(f"/#/experiments/{eid}")
    assert "/login" in page.url
    browser_login(page, "admin", ADMIN_PASSWORD, go=False)
    page.wait_for_url(f"**/experiments/{eid}")
    assert page.locator("h1").inner_text() == "hash-target"
    page.goto(f"/#/experiments/{eid}")
    page.wait_for_url(f"**/experiments/{eid}")


def test_times_are_shown_in_the_browser_time_zone(page: Any) -> None:
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto("/experiments")
    first = page.locator("time[datetime]").first
    assert first.get_attribute("data-localized") is not None
    assert "UTC" in (first.get_attribute("title") or "")


def test_error_pages_keep_the_navigation(page: Any) -> None:
    browser_login(page, "admin", ADMIN_PASSWORD)
    response = page.goto("/experiments/987654")
    assert response.status == 404
    assert page.get_by_role("navigation", name="Main").is_visible()
    check_axe(page)
    screenshot(page, "not-found")


@pytest.mark.parametrize("path", ["/account", "/models", "/datasets", "/deployments"])
def test_the_other_pages_pass_axe(page: Any, path: str) -> None:
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto(path)
    assert page.get_by_role("navigation", name="Main").is_visible()
    check_axe(page)
    screenshot(page, path.strip("/"))
