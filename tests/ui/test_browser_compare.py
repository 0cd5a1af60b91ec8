"""The compare page in a real browser (Debian's chromium): three runs compared (the differing param
marked, the overlaid chart's series and point counts, the scatter's points, the parallel coordinates'
lines), the choices kept in the URL across a reload, the dark theme, brushing, zooming, escaping, and
axe on the page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.ui.compare_data import XSS_ATTRIBUTE, XSS_SCRIPT, log_run, three_runs
from tests.ui.conftest import ADMIN_PASSWORD
from tests.ui.helpers import browser_login, check_axe, screenshot

pytestmark = pytest.mark.browser
SERIES = "/ui/data/series/many"


@pytest.fixture
def runs(services: Services, admin: Principal) -> list[str]:
    experiment = services.experiments.create_experiment(admin, name="compare-browser")
    return three_runs(services, admin, experiment)


def open_compare(page: Any, ids: list[str], extra: str = "", *, charts: bool = True) -> None:
    """The compare page, its charts drawn (``charts=False``: with no metric chosen, so none to draw)."""
    browser_login(page, "admin", ADMIN_PASSWORD)
    page.goto(f"/compare?runs={','.join(ids)}{extra}{'' if charts else '&metric='}")
    if charts:
        page.locator("[data-line-charts] figure[data-metric]").first.wait_for()
    page.locator("[data-parallel] path.pc-line").first.wait_for()


def chart(page: Any, metric: str, **attrs: str) -> Any:
    """The chart of ``metric`` once drawn with the given data attributes (x="wall", theme="dark")."""
    selector = f'figure[data-metric="{metric}"]' + "".join(f'[data-{k}="{v}"]' for k, v in attrs.items())
    found = page.locator(selector)
    found.wait_for()
    return found


def query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


def test_compare_three_runs(page: Any, runs: list[str]) -> None:
    requests: list[str] = []
    page.on("request", lambda r: SERIES in r.url and requests.append(r.url))
    open_compare(page, runs)
    lr = page.locator('tr[data-row="params.lr"]')
    assert lr.get_attribute("class") == "differs" and lr.is_visible()
    assert "(differs)" in lr.locator("th").inner_text()
    assert page.locator('tr[data-row="params.opt"]').get_attribute("class") is None

    acc = chart(page, "acc")
    assert acc.get_attribute("data-series-count") == "3"
    assert acc.get_attribute("data-point-counts") == "[5,7,9]"
    assert acc.get_attribute("data-downsampled") == "false"
    assert acc.locator(".u-legend .u-label").all_inner_texts() == ["run-0", "run-1", "run-2"]
    assert (
        len(requests) == 1 and parse_qs(urlsplit(requests[0]).query)["run_id"] == runs
    )  # one call, every run

    page.get_by_role("group", name="Metrics").get_by_label("loss", exact=True).check()
    loss = chart(page, "loss")
    assert loss.get_attribute("data-point-counts") == "[5,7,9]"
    assert len(requests) == 2 and parse_qs(urlsplit(requests[1]).query)["key"] == ["loss"]  # only the new one

    scatter = page.locator("[data-scatter]")
    assert scatter.get_attribute("data-points") == "3"
    assert scatter.locator("circle.point").count() == 3
    parallel = page.locator("[data-parallel]")
    assert parallel.get_attribute("data-lines") == "3"
    assert parallel.locator("path.pc-line").count() == 3
    check_axe(page)
    screenshot(page, "compare")


def test_choices_survive_a_reload(page: Any, runs: list[str]) -> None:
    open_compare(page, runs)
    page.get_by_role("group", name="Metrics").get_by_label("loss", exact=True).check()
    page.get_by_role("group", name="Metrics").get_by_label("acc", exact=True).uncheck()
    page.get_by_label("X axis").select_option("relative")
    page.get_by_label("Log scale").check()
    page.locator("[data-scatter-x]").select_option("p.opt")
    page.locator('[data-dim-choices] input[value="p.opt"]').check()
    page.get_by_label("Colour by").select_option("m.loss")
    page.get_by_label("Only differences").check()
    chart(page, "loss", x="relative", log="true")
    chosen = query(page)
    assert [m for m in chosen["metric"] if m] == ["loss"]
    assert chosen["x"] == ["relative"] and chosen["log"] == ["1"] and chosen["diff"] == ["1"]
    assert chosen["sx"] == ["p.opt"] and chosen["color"] == ["m.loss"]
    assert {"p.lr", "p.opt", "m.acc", "m.loss"} <= set(chosen["dim"])

    page.reload()
    chart(page, "loss", x="relative", log="true")
    assert page.locator("figure[data-metric]").count() == 1
    assert page.get_by_label("X axis").input_value() == "relative"
    assert page.get_by_label("Log scale").is_checked() and page.get_by_label("Only differences").is_checked()
    assert not page.locator('tr[data-row="params.opt"]').is_visible()
    assert page.locator('tr[data-row="params.lr"]').is_visible()
    assert page.locator("[data-scatter-x]").input_value() == "p.opt"
    assert page.get_by_label("Colour by").input_value() == "m.loss"
    assert page.locator("[data-parallel]").get_attribute("data-lines") == "3"
    assert query(page) == chosen


def test_the_dark_theme_redraws_the_charts_in_its_colours(page: Any, runs: list[str]) -> None:
    open_compare(page, runs)
    assert chart(page, "acc").get_attribute("data-theme") == "light"
    light = page.locator("[data-scatter] circle.point").first.get_attribute("fill")
    page.get_by_label("Theme").select_option("dark")
    chart(page, "acc", theme="dark")
    page.locator('[data-scatter][data-theme="dark"]').wait_for()
    page.locator('[data-parallel][data-theme="dark"]').wait_for()
    dark = page.locator("[data-scatter] circle.point").first.get_attribute("fill")
    assert dark == page.evaluate("window.modelyard.theme().series[0]") and dark != light
    check_axe(page)
    screenshot(page, "compare-dark")
    page.get_by_label("Theme").select_option("light")


def test_brushing_an_axis_keeps_the_runs_inside_and_the_url_keeps_the_brush(
    page: Any, runs: list[str]
) -> None:
    open_compare(page, runs, charts=False)
    parallel = page.locator("[data-parallel]")
    axis = parallel.locator(".pc-axis-hit").first  # lr: 0.1 at the top, 0.01 and 0.001 near the bottom
    axis.scroll_into_view_if_needed()
    box = axis.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.3, steps=5)
    page.mouse.up()
    assert parallel.get_attribute("data-lines-kept") == "1"
    assert parallel.locator("path.pc-line.filtered").count() == 2
    assert "1 of 3 runs inside the axis filters." in page.locator("[data-parallel-note]").inner_text()
    brush = query(page)["brush"]
    assert len(brush) == 1 and brush[0].startswith("p.lr:")
    page.reload()
    page.locator("[data-parallel] path.pc-line").first.wait_for()
    assert parallel.get_attribute("data-lines-kept") == "1"
    page.get_by_role("button", name="Clear the axis filters").click()
    assert parallel.get_attribute("data-lines-kept") == "3" and "brush" not in query(page)


def test_zooming_fetches_the_range_and_a_double_click_zooms_out(page: Any, runs: list[str]) -> None:
    open_compare(page, runs, "&metric=loss")
    over = chart(page, "loss").locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    zoomed = page.locator('figure[data-metric="loss"]:not([data-point-counts="[5,7,9]"])')
    zoomed.wait_for()
    counts = zoomed.get_attribute("data-point-counts")
    chosen = query(page)
    low, high = float(chosen["xmin"][0]), float(chosen["xmax"][0])
    assert 0 <= low < 1 and 3.5 < high < 5  # about the first half of steps 0..8
    expected = sum(1 for step in range(5) if low <= step <= high)
    assert counts == f"[{expected},{expected},{expected}]"
    assert page.get_by_role("button", name="Show the whole range").is_visible()
    page.reload()
    page.locator(f'figure[data-metric="loss"][data-point-counts="{counts}"]').wait_for()
    page.locator('figure[data-metric="loss"] .u-over').dblclick()
    page.locator('figure[data-metric="loss"][data-point-counts="[5,7,9]"]').wait_for()
    assert "xmin" not in query(page)


def xss_runs(services: Services, admin: Principal) -> list[str]:
    experiment = services.experiments.create_experiment(admin, name="xss")
    return [
        log_run(services, admin, experiment, XSS_SCRIPT, params={"p": XSS_ATTRIBUTE, "n": "1"},
                tags={"t": XSS_SCRIPT}, metrics={"m": [1.0, 2.0]}),
        log_run(services, admin, experiment, XSS_ATTRIBUTE, params={"p": XSS_SCRIPT, "n": "2"},
                tags={"t": XSS_ATTRIBUTE}, metrics={"m": [3.0]}),
    ]  # fmt: skip


def test_names_and_values_are_shown_as_text_and_never_run(
    page: Any, services: Services, admin: Principal
) -> None:
    open_compare(page, xss_runs(services, admin), "&sx=p.p&sy=p.n&dim=p.p&dim=p.n&dim=m.m", charts=False)
    assert page.locator('tr[data-row="params.p"] td').all_inner_texts() == [XSS_ATTRIBUTE, XSS_SCRIPT]
    assert page.locator('tr[data-row="tags.t"] td').all_inner_texts() == [XSS_SCRIPT, XSS_ATTRIBUTE]
    assert page.locator("thead .run-col a").all_inner_texts() == [XSS_SCRIPT, XSS_ATTRIBUTE]
    page.locator("[data-scatter] circle.point").first.hover()
    tip = page.locator("[data-scatter] .chart-tip")
    assert tip.is_visible() and XSS_SCRIPT in tip.inner_text()
    page.locator("[data-parallel] path.pc-line").first.dispatch_event("mouseenter")
    assert page.locator("[data-parallel] .chart-tip").inner_text().startswith(XSS_SCRIPT)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0


def test_run_names_in_the_chart_legend_are_text(page: Any, services: Services, admin: Principal) -> None:
    open_compare(page, xss_runs(services, admin), "&metric=m")
    assert chart(page, "m").locator(".u-legend .u-label").all_inner_texts() == [XSS_SCRIPT, XSS_ATTRIBUTE]
    box = chart(page, "m").locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
