import pytest
from tests.ui.runs_data import Spec, make_runs, experiment
from tests.ui.helpers import browser_login, check_axe, screenshot
from tests.ui.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.browser


def test_scratch(page, services, admin):
    eid = experiment(services, admin, "exp")
    specs = []
    for i in range(300):
        specs.append(
            Spec(
                f"run-{i}",
                {"lr": str(i % 7), "model": ["tree", "svm"][i % 2]},
                {"loss": (i * 37 % 100) / 100, "acc": i / 300},
                start=i,
                end=i + 5 if i % 9 else None,
                parent=(f"run-{i - i % 10}" if i % 10 in (3, 4) else None),
            )
        )
    make_runs(services, admin, eid, specs)
    page.on("console", lambda m: print("CONSOLE", m.type, m.text[:300], flush=True))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.log('CSPV ' + JSON.stringify({src: e.sourceFile, line: e.lineNumber, col: e.columnNumber, el: e.target && e.target.outerHTML && e.target.outerHTML.slice(0, 200)})))"
    )
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto(f"/experiments/{eid}")
    page.wait_for_selector("[data-runs-body] tr")
    print("A", flush=True)
    print("rows", page.locator("tr").count())
    for i in range(12):
        page.locator("[data-runs-scroll]").evaluate("e => e.scrollTop = e.scrollHeight")
        page.wait_for_timeout(400)
        print("rows", page.locator("tr").count(), page.url)
    page.keyboard.press("/")
    page.keyboard.type("metrics.loss < 0.5")
    page.keyboard.press("Enter")
    page.wait_for_timeout(1000)
    print(page.url, page.locator("#runs-count").inner_text())
    screenshot(page, "scratch-2")
    print("C", flush=True)
    check_axe(page)
    print("D", flush=True)
