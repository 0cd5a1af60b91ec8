"""The run page in a real browser (Debian's chromium): charts with the right number of points (a
short history drawn whole, a long one downsampled on the server), zooming into a range fetches its
detail, settings in the URL, several metrics on one chart, the dark theme re-themes the charts,
lazy drawing with a bounded number of fetches in flight, artifact previews (an image, a CSV), a tag
edited in place, registering a model and landing on its version page, nothing a user wrote runs as
script, axe on every tab, and screenshots."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Metric
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.helpers import browser_login, check_axe, screenshot
from tests.ui.run_helpers import XSS_IMG, XSS_SCRIPT, Team, make_team, principal, write_artifact
from tests.ui.test_run_artifacts import PNG

pytestmark = pytest.mark.browser

T0 = 1_700_000_000_000
LONG = 100_000


@pytest.fixture
def team(services: Services, make_user: Callable[..., UserCreds]) -> Team:
    return make_team(services, make_user)


def _log(services: Services, who: Principal, run_id: str, key: str, values: list[float]) -> None:
    for start in range(0, len(values), 1000):
        batch = [
            Metric(key, v, T0 + (start + i) * 10, start + i)
            for i, v in enumerate(values[start : start + 1000])
        ]
        services.tracking.log_batch(who, run_id, metrics=batch)


def _figure(page: Any, keys: list[str]) -> Any:
    return page.locator(f"figure[data-chart][data-keys='{json.dumps(keys, separators=(',', ':'))}']")


def _ready(figure: Any) -> None:
    figure.scroll_into_view_if_needed()
    figure.and_(figure.page.locator("[data-state=ready]")).wait_for()


def _open(page: Any, creds: UserCreds, url: str) -> None:
    browser_login(page, creds.username, creds.password)
    page.goto(url)


def test_charts_draw_every_point_of_a_short_history_and_a_downsample_of_a_long_one(
    page: Any, services: Services, team: Team
) -> None:
    alice = principal(services, team.alice)
    _log(services, alice, team.run_id, "grad_norm", [float(i % 97) for i in range(LONG)])
    _open(page, team.alice, f"/runs/{team.run_id}?tab=charts")
    short = _figure(page, ["loss"])
    _ready(short)
    assert short.get_attribute("data-points-total") == "50"
    assert short.get_attribute("data-points-drawn") == "50"
    assert short.get_attribute("data-downsampled") == "false"
    assert short.locator("[data-chart-info]").inner_text() == "50 points"
    long = _figure(page, ["grad_norm"])
    _ready(long)
    drawn = int(long.get_attribute("data-points-drawn"))
    assert long.get_attribute("data-points-total") == str(LONG)
    assert long.get_attribute("data-downsampled") == "true"
    width = long.locator("[data-chart-canvas]").evaluate("e => e.clientWidth")
    assert 100 <= drawn <= 2 * width + 4  # about two points per pixel, never the whole history
    assert long.locator("[data-chart-info]").inner_text() == (
        f"100,000 points, showing {drawn:,} (min/max per bucket)"
    )
    check_axe(page)
    screenshot(page, "run-charts")


def test_dragging_across_a_chart_fetches_the_detail_of_that_range(
    page: Any, services: Services, team: Team
) -> None:
    alice = principal(services, team.alice)
    _log(services, alice, team.run_id, "grad_norm", [float(i % 97) for i in range(LONG)])
    _open(page, team.alice, f"/runs/{team.run_id}?tab=charts&chart=grad_norm")
    figure = _figure(page, ["grad_norm"])
    _ready(figure)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/ui/data/series" in r.url else None)
    over = figure.locator(".u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.40, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.41, y, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "f => f.getAttribute('data-zoomed') === 'true' && f.getAttribute('data-state') === 'ready'",
        arg=figure.element_handle(),
    )
    assert any("min=" in url and "max=" in url for url in asked)
    total = int(figure.get_attribute("data-points-total"))
    assert 300 < total < 3_000  # about 1 % of the steps, every one of them
    assert figure.get_attribute("data-downsampled") == "false"
    assert figure.get_attribute("data-points-drawn") == str(total)
    assert "zoomed to steps" in figure.locator("[data-chart-info]").inner_text()
    reset = figure.locator("[data-chart-reset]")
    assert reset.is_visible()
    over.dblclick()
    page.wait_for_function(
        "f => f.getAttribute('data-zoomed') === 'false' && f.getAttribute('data-state') === 'ready'",
        arg=figure.element_handle(),
    )
    assert figure.get_attribute("data-points-total") == str(LONG)
    assert not reset.is_visible()


def test_settings_live_in_the_url_and_several_metrics_share_a_chart(
    page: Any, services: Services, team: Team
) -> None:
    alice = principal(services, team.alice)
    _log(services, alice, team.run_id, "acc", [0.5 + i / 200 for i in range(80)])
    _open(page, team.alice, f"/runs/{team.run_id}?tab=charts")
    _ready(_figure(page, ["acc"]))
    page.get_by_label("X axis").select_option("wall")
    page.get_by_label("Log scale (y)").check()
    page.wait_for_url(lambda url: "x=wall" in url and "log=1" in url)
    _ready(_figure(page, ["acc"]))
    page.locator("[data-chart-chooser] summary").click()
    page.locator("[data-metric-choice]").nth(0).check()  # acc (loss is ticked already: every metric is)
    page.get_by_role("button", name="One chart with the ticked metrics").click()
    page.wait_for_url(lambda url: "chart=acc%2Closs" in url or "chart=acc,loss" in url)
    both = _figure(page, ["acc", "loss"])
    _ready(both)
    assert page.locator("figure[data-chart]").count() == 1
    assert both.get_attribute("data-points-total") == "130"  # 80 + 50
    assert page.get_by_label("X axis").input_value() == "wall"  # the reload kept the settings
    assert page.get_by_label("Log scale (y)").is_checked()
    page.reload()
    _ready(_figure(page, ["acc", "loss"]))
    check_axe(page)


def test_the_dark_theme_redraws_the_charts_in_its_colours(page: Any, team: Team) -> None:
    _open(page, team.alice, f"/runs/{team.run_id}?tab=charts")
    figure = _figure(page, ["loss"])
    _ready(figure)
    assert figure.get_attribute("data-theme") == "light"
    light = figure.locator("canvas").evaluate("c => c.toDataURL()")
    page.get_by_label("Theme").select_option("dark")
    page.wait_for_function("f => f.getAttribute('data-theme') === 'dark'", arg=figure.element_handle())
    assert figure.locator("canvas").evaluate("c => c.toDataURL()") != light
    check_axe(page)
    screenshot(page, "run-charts-dark")


def test_many_charts_are_drawn_as_they_scroll_into_view_with_few_fetches_at_once(
    page: Any, services: Services, team: Team
) -> None:
    alice = principal(services, team.alice)
    services.tracking.log_batch(
        alice,
        team.run_id,
        metrics=[Metric(f"m{k:02d}", float(s), T0 + s, s) for k in range(40) for s in range(20)],
    )
    in_flight = {"now": 0, "most": 0}

    def started(request: Any) -> None:
        if "/ui/data/series" in request.url:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])

    def ended(request: Any) -> None:
        if "/ui/data/series" in request.url:
            in_flight["now"] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    _open(page, team.alice, f"/runs/{team.run_id}?tab=charts")
    figures = page.locator("figure[data-chart]")
    assert figures.count() == 41
    _ready(_figure(page, ["loss"]))
    last = _figure(page, ["m39"])
    assert last.get_attribute("data-state") is None  # far below: not fetched yet
    _ready(last)
    assert last.get_attribute("data-points-total") == "20"
    assert 1 <= in_flight["most"] <= 4


def test_an_image_and_a_csv_are_previewed(page: Any, services: Services, team: Team) -> None:
    write_artifact(services, team.run_id, "plots/roc.png", PNG)
    rows = "\n".join(["fold,auc"] + [f"{i},{0.8 + i / 1000:.3f}" for i in range(250)])
    write_artifact(services, team.run_id, "eval/folds.csv", rows.encode())
    _open(page, team.alice, f"/runs/{team.run_id}?tab=artifacts")
    page.get_by_role("link", name="plots/").click()
    page.get_by_role("link", name="roc.png").click()
    image = page.locator("[data-preview-image]")
    image.wait_for()
    page.wait_for_function("i => i.complete && i.naturalWidth === 1", arg=image.element_handle())
    check_axe(page)
    screenshot(page, "run-artifacts-image")
    page.goto(f"/runs/{team.run_id}?tab=artifacts&path=eval/folds.csv")
    table = page.locator("[data-preview-table]")
    assert table.locator("tbody tr").count() == 100
    assert table.locator("thead th").all_inner_texts() == ["fold", "auc"]
    assert page.locator("[data-table-count]").inner_text().startswith("First 100 of 250 rows.")
    check_axe(page)
    screenshot(page, "run-artifacts-csv")


def test_a_model_is_registered_from_the_run_and_the_page_lands_on_its_version(
    page: Any, services: Services, admin: Principal, team: Team
) -> None:
    _open(page, team.alice, f"/runs/{team.run_id}?tab=artifacts&path=model/MLmodel")
    assert page.locator("[data-signature=inputs] tbody tr").count() == 2
    check_axe(page)
    screenshot(page, "run-artifacts-mlmodel")
    page.get_by_label("Model name (existing or new)").fill("churn-eu")
    page.get_by_role("button", name="Register as model").click()
    page.wait_for_url("**/models/churn-eu/versions/1")
    assert page.locator("h1").inner_text() == "churn-eu · Version 1"  # the registry's version page
    version = services.registry.get_model_version(admin, "churn-eu", 1)
    assert version.source == f"runs:/{team.run_id}/model"
    assert version.user_id == "alice"


def test_a_tag_is_edited_in_place(page: Any, services: Services, admin: Principal, team: Team) -> None:
    _open(page, team.alice, f"/runs/{team.run_id}")
    row = page.locator("tr[data-tag=team]")
    row.get_by_label("Value of team").fill("retention")
    row.get_by_role("button", name="Save").click()
    page.locator("tr[data-tag=team] [data-tag-value][value=retention]").wait_for()
    assert services.tracking.get_run(admin, team.run_id).tags["team"] == "retention"
    page.locator("[data-new-tag-key]").fill("stage")
    page.locator("[data-new-tag-value]").fill("candidate")
    page.get_by_role("button", name="Save the tag").click()
    page.locator("tr[data-tag=stage]").wait_for()
    assert page.locator("#live-region").inner_text() in ("", "Tag stage saved")
    page.get_by_role("button", name="Delete the tag stage").click()
    page.locator("tr[data-tag=stage]").wait_for(state="detached")
    assert "stage" not in services.tracking.get_run(admin, team.run_id).tags
    # a system tag is refused inline, next to the form, with what was typed kept
    page.locator("[data-new-tag-key]").fill("mlflow.runName")
    page.locator("[data-new-tag-value]").fill("renamed")
    page.get_by_role("button", name="Save the tag").click()
    error = page.locator("[data-tag-error]")
    error.wait_for()
    assert "is a system tag" in error.inner_text()
    assert page.locator("[data-new-tag-key]").get_attribute("aria-invalid") == "true"
    assert page.locator("[data-new-tag-value]").input_value() == "renamed"
    assert services.tracking.get_run(admin, team.run_id).run_name == "train-v1"
    check_axe(page)
    screenshot(page, "run-overview")


def test_nothing_a_user_wrote_runs_as_script(page: Any, services: Services, team: Team) -> None:
    alice = principal(services, team.alice)
    services.tracking.update_run(alice, team.run_id, run_name=XSS_SCRIPT)
    services.tracking.log_batch(
        alice,
        team.run_id,
        params={"html": XSS_IMG},
        tags={"note": XSS_SCRIPT, "img": XSS_IMG, "mlflow.note.content": XSS_IMG},
    )
    write_artifact(services, team.run_id, 'x"><img src=x onerror="window.__xss=1">.md', XSS_SCRIPT.encode())
    write_artifact(services, team.run_id, "t.csv", f"a,b\n{XSS_IMG},{XSS_SCRIPT}\n".encode())
    _open(page, team.alice, f"/runs/{team.run_id}")
    assert page.locator("[data-run-name]").inner_text() == XSS_SCRIPT
    for url in (
        f"/runs/{team.run_id}",
        f"/runs/{team.run_id}?tab=charts",
        f"/runs/{team.run_id}?tab=artifacts",
        f"/runs/{team.run_id}?tab=artifacts&path=t.csv",
        f"/runs/{team.run_id}?tab=artifacts&path=" + 'x"><img src=x onerror="window.__xss=1">.md',
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.__xss") == "undefined", url
    check_axe(page)


def test_an_mlflow_run_link_lands_on_the_run_page(page: Any, team: Team) -> None:
    browser_login(page, team.alice.username, team.alice.password)
    page.goto("/account")  # from another page: the root page reads the hash when it loads
    page.goto(f"/#/experiments/{team.experiment_id}/runs/{team.run_id}")
    page.wait_for_url(lambda url: url.endswith(f"/runs/{team.run_id}"))
    assert page.locator("[data-run-name]").inner_text() == "train-v1"
    assert page.locator("[data-tab=overview]").get_attribute("aria-current") == "page"
