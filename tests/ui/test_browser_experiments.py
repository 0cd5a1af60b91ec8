"""The experiments pages in a real browser: create, rename in place, delete and restore; search as
you type with the state in the URL; the keyboard; injected names that must not run; axe on each page
and screenshots."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.ui.conftest import ADMIN_PASSWORD
from tests.ui.helpers import browser_login, check_axe, screenshot
from tests.ui.test_experiments import XSS_NAMES

pytestmark = pytest.mark.browser


def rows(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("[data-experiment-link]").all_inner_texts()]


def test_create_rename_delete_and_restore(page: Any) -> None:
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto("/experiments")
    form = page.locator("#new-experiment")
    form.get_by_label("Name").fill("browser-made")
    form.get_by_role("button", name="Create").click()
    page.wait_for_url("**/experiments?done=created*")
    assert page.locator("[data-done]").inner_text() == "Experiment 'browser-made' created."
    assert "browser-made" in rows(page)
    check_axe(page)
    screenshot(page, "experiments-created")

    eid = page.get_by_role("link", name="browser-made", exact=True).get_attribute("href").rsplit("/", 1)[1]
    row = page.locator(f'tr[data-experiment-id="{eid}"]')
    row.get_by_role("link", name="Rename browser-made").click()
    field = row.get_by_label("New name for “browser-made”")
    expect(field).to_be_focused()  # the inline form takes the focus
    field.fill("Default")
    row.get_by_role("button", name="Save").click()
    assert row.get_by_role("alert").inner_text() == "Experiment(name=Default) already exists."
    check_axe(page)
    row.get_by_label("New name for “browser-made”").fill("browser-renamed")
    row.get_by_role("button", name="Save").click()
    page.wait_for_url("**/experiments?done=renamed*")
    assert "browser-renamed" in rows(page) and "browser-made" not in rows(page)

    page.get_by_role("button", name="Delete browser-renamed").click()
    page.wait_for_url("**done=deleted*")
    assert "browser-renamed" not in rows(page)
    page.get_by_label("Show deleted").check()
    page.wait_for_url("**deleted=1*")
    page.get_by_role("button", name="Restore browser-renamed").click()
    page.wait_for_url("**done=restored*")
    assert page.locator("[data-done]").inner_text() == "Experiment 'browser-renamed' restored, with its runs."


def test_search_as_you_type_keeps_the_state_in_the_url(
    page: Any, services: Services, admin: Principal
) -> None:
    for name in ("search-apple", "search-banana", "other"):
        services.experiments.create_experiment(admin, name=name)
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto("/experiments")
    page.locator("body").press("/")
    search = page.get_by_label("Search by name")
    expect(search).to_be_focused()  # '/' focuses the search box
    page.keyboard.type("banana")
    page.wait_for_url("**/experiments?q=banana")
    assert rows(page) == ["search-banana"]
    expect(page.locator("#live-region")).to_have_text("1 experiment shown")
    page.reload()
    assert rows(page) == ["search-banana"]
    assert search.input_value() == "banana"
    screenshot(page, "experiments-search")


def test_keyboard_only_from_search_to_an_experiment(page: Any, services: Services, admin: Principal) -> None:
    eid = services.experiments.create_experiment(admin, name="by-keyboard")
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto("/experiments")
    page.keyboard.press("/")
    page.keyboard.type("keyboard")
    page.wait_for_url("**q=keyboard")
    link = page.get_by_role("link", name="by-keyboard", exact=True)
    for _ in range(30):
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the experiment's link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/experiments/{eid}")
    assert page.locator("[data-experiment-name]").inner_text() == "by-keyboard"
    assert page.locator("[data-runs-region]").is_visible()  # its runs table
    check_axe(page)
    screenshot(page, "experiment")


def test_injected_names_do_not_run(page: Any, services: Services, admin: Principal) -> None:
    ids = [services.experiments.create_experiment(admin, name=name) for name in XSS_NAMES]
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto("/experiments")
    assert set(XSS_NAMES) <= set(rows(page)), "the names are shown as text"
    for eid in ids:
        page.goto(f"/experiments/{eid}")
        assert page.locator("[data-experiment-name]").inner_text() in XSS_NAMES
    page.goto("/experiments")
    row = page.locator(f'tr[data-experiment-id="{ids[1]}"]')
    row.get_by_role("link", name="Rename").click()
    row.get_by_role("button", name="Save").wait_for()
    page.get_by_label("Search by name").fill("img")
    page.wait_for_url("**q=img")
    assert page.evaluate("typeof window.__xss") == "undefined"
    screenshot(page, "experiments-injected-names")
