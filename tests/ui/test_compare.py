"""The compare page with the test client: the diff table's values and marks, "only differences", the
message for runs not found (a run of another group said exactly as a missing one), the limit, the
choices read from the URL, bad parameters, and escaping."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from modelyard.domain.charts import XAxis
from modelyard.domain.compare import MAX_COMPARE_RUNS
from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.compare_data import XSS_ATTRIBUTE, XSS_SCRIPT, log_run, three_runs


@dataclass
class Row:
    attrs: dict[str, str | None]
    cells: list[str] = field(default_factory=list)
    cell_attrs: list[dict[str, str | None]] = field(default_factory=list)


class TableRows(HTMLParser):
    """The diff table's rows by their data-row name: attributes and the text of each cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, Row] = {}
        self.row: Row | None = None
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and dict(attrs).get("data-row"):
            self.row = self.rows[str(dict(attrs)["data-row"])] = Row(dict(attrs))
        elif tag in ("th", "td") and self.row is not None:
            self.row.cells.append("")
            self.row.cell_attrs.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.row is not None and self.row.cells:
            self.row.cells[-1] += data


def rows_of(html: str) -> dict[str, Row]:
    parser = TableRows()
    parser.feed(html)
    return parser.rows


def compare_data(html: str) -> dict[str, object]:
    start = html.index('data-compare="') + len('data-compare="')
    return json.loads(unescape(html[start : html.index('"', start)]))  # type: ignore[no-any-return]


@pytest.fixture
def experiment(services: Services, admin: Principal) -> str:
    return services.experiments.create_experiment(admin, name="compare-me")


def page(client: TestClient, ids: list[str], extra: str = "") -> str:
    response = client.get(f"/compare?runs={','.join(ids)}{extra}")
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("query", ["", "?runs=", "?runs=,%20,"])
def test_without_runs_the_page_says_how_to_choose_them(admin_ui: TestClient, query: str) -> None:
    response = admin_ui.get("/compare" + query)
    assert response.status_code == 200
    assert "data-compare-empty" in response.text
    assert "/compare?runs=&lt;id&gt;,&lt;id&gt;" in response.text
    assert "data-compare=" not in response.text


def test_the_diff_table_shows_each_value_and_marks_the_rows_that_differ(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = three_runs(services, admin, experiment)
    html = page(admin_ui, ids)
    rows = rows_of(html)
    lr, opt = rows["params.lr"], rows["params.opt"]
    assert [c.strip() for c in lr.cells] == ["≠lr (differs)", "0.1", "0.01", "0.001"]
    assert lr.attrs.get("class") == "differs" and "data-differs" in lr.attrs
    assert [c.strip() for c in opt.cells] == ["opt", "adam", "adam", "adam"]
    assert "data-same" in opt.attrs and opt.attrs.get("class") is None and "hidden" not in opt.attrs
    # latest metrics: the last value of each history, exactly
    assert [c.strip() for c in rows["metrics.loss"].cells[1:]] == [
        "0.2",
        "1.1428571428571428",
        "2.111111111111111",
    ]
    assert "data-differs" in rows["metrics.loss"].attrs
    assert [c.strip() for c in rows["tags.team"].cells[1:]] == ["vision"] * 3
    assert "data-same" in rows["tags.team"].attrs
    assert "mlflow.runName" not in html  # the name is the column's header
    assert "data-same" in rows["attr.experiment"].attrs and "data-differs" in rows["attr.started"].attrs
    for i, run_id in enumerate(ids):
        assert f'<a href="/runs/{run_id}">run-{i}</a>' in html
    assert (
        "4 of 10 rows differ" in html
    )  # started, lr, acc, loss; of 5 run rows + 2 params + 2 metrics + 1 tag
    assert 'Parameters <span class="muted">(1 of 2 differ)</span>' in html


def test_only_differences_hides_the_rows_that_are_the_same(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = three_runs(services, admin, experiment)
    rows = rows_of(page(admin_ui, ids, "&diff=1"))
    assert "hidden" in rows["params.opt"].attrs and "hidden" in rows["tags.team"].attrs
    assert "hidden" not in rows["params.lr"].attrs and "hidden" not in rows["metrics.loss"].attrs
    html = page(admin_ui, ids, "&diff=1")
    assert "data-only-diff checked" in html
    assert "data-only-diff checked" not in page(admin_ui, ids)
    assert all("hidden" not in r.attrs for r in rows_of(page(admin_ui, ids)).values())


def test_identical_runs_with_only_differences_say_that_all_is_the_same(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = [log_run(services, admin, experiment, "same", params={"a": "1"}) for _ in range(2)]
    html = page(admin_ui, ids, "&diff=1")
    assert "data-all-same" in html


def test_runs_not_found_and_runs_of_another_group_get_the_same_message(
    ui: TestClient,
    services: Services,
    make_user: Callable[..., UserCreds],
    user_ui: Callable[[UserCreds], TestClient],
) -> None:
    alice_creds = make_user("alice", group="vision")
    alice = services.identity.authenticate_token(alice_creds.token)
    bob = services.identity.authenticate_token(make_user("bob", group="nlp").token)
    mine = services.experiments.create_experiment(alice, name="mine")
    theirs = services.experiments.create_experiment(bob, name="theirs")
    a, b = (log_run(services, alice, mine, n, params={"lr": n}) for n in ("a1", "a2"))
    foreign = log_run(services, bob, theirs, "secret-run", params={"secret": "bob-only"})
    missing = "f" * 32
    client = user_ui(alice_creds)
    with_foreign = page(client, [a, b, foreign])
    with_missing = page(client, [a, b, missing])
    assert "1 of the 3 runs was not found: it does not exist, or you may not read it." in with_foreign
    assert 'data-not-found="1"' in with_foreign
    assert with_foreign.replace(foreign, missing) == with_missing
    assert (
        "secret-run" not in with_foreign and "bob-only" not in with_foreign and "theirs" not in with_foreign
    )
    both = page(client, [foreign, a, missing, b])
    assert "2 of the 4 runs were not found: they do not exist, or you may not read them." in both
    assert [r["name"] for r in compare_data(both)["runs"]] == ["a1", "a2"]  # type: ignore[index]


def test_when_no_run_is_found_there_is_only_the_message(admin_ui: TestClient) -> None:
    html = page(admin_ui, ["a" * 32, "b" * 32])
    assert "2 of the 2 runs were not found" in html
    assert "data-compare=" not in html and "<table" not in html


def test_one_run_is_shown_with_a_note_that_comparing_needs_two(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    html = page(admin_ui, [log_run(services, admin, experiment, "alone")])
    assert "data-compare-one" in html and "<h1>Compare 1 run</h1>" in html


def test_runs_from_several_experiments_show_their_experiments(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    e1 = services.experiments.create_experiment(admin, name="exp-one")
    e2 = services.experiments.create_experiment(admin, name="exp-two")
    ids = [log_run(services, admin, e1, "x"), log_run(services, admin, e2, "y")]
    rows = rows_of(page(admin_ui, ids))
    assert [c.strip() for c in rows["attr.experiment"].cells] == [
        "≠Experiment (differs)",
        "exp-one",
        "exp-two",
    ]


def test_more_runs_than_the_limit_is_a_clear_refusal_not_a_cut(admin_ui: TestClient) -> None:
    ids = [f"{i:032x}" for i in range(MAX_COMPARE_RUNS + 5)]
    response = admin_ui.get("/compare?runs=" + ",".join(ids))
    assert response.status_code == 400
    assert (
        f"&#39;runs&#39; lists {MAX_COMPARE_RUNS + 5} runs, and a comparison holds at most {MAX_COMPARE_RUNS}"
        in (response.text)
    )
    assert 'role="alert"' in response.text and "<table" not in response.text


def test_the_limit_itself_is_accepted(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = [log_run(services, admin, experiment, f"r{i}") for i in range(3)]
    padded = ids + [f"{i:032x}" for i in range(MAX_COMPARE_RUNS - 3)]
    html = page(admin_ui, padded)
    assert f"{MAX_COMPARE_RUNS - 3} of the {MAX_COMPARE_RUNS} runs were not found" in html


def test_names_params_and_tags_are_escaped(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = [
        log_run(
            services,
            admin,
            experiment,
            XSS_SCRIPT,
            params={"p": XSS_ATTRIBUTE},
            tags={"t": XSS_SCRIPT},
            metrics={"m": [1.0]},
        ),
        log_run(services, admin, experiment, XSS_ATTRIBUTE, params={"p": XSS_SCRIPT}),
    ]
    html = page(admin_ui, ids, "&metric=" + XSS_SCRIPT)
    assert XSS_SCRIPT not in html and XSS_ATTRIBUTE not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in html
    data = compare_data(html)
    assert [r["name"] for r in data["runs"]] == [XSS_SCRIPT, XSS_ATTRIBUTE]  # type: ignore[index]
    assert "metric &#39;&lt;script&gt;" in html  # the unknown metric's note, escaped too


def test_choices_in_the_url_are_rendered_back(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = three_runs(services, admin, experiment)
    extra = (
        "&metric=&metric=acc&x=wall&log=1&smooth=0.6&sx=m.acc&sy=p.lr&dim=&dim=p.lr&dim=m.loss"
        "&color=p.lr&brush=p.lr:0.25:0.75&xmin=1&xmax=3.5"
    )
    html = page(admin_ui, ids, extra)
    assert 'value="acc" form="compare-form" checked' in html
    assert 'value="loss" form="compare-form">' in html  # the metric list was given: loss is not chosen
    assert '<option value="wall" selected>' in html
    assert "data-log checked" in html and 'value="0.6" form="compare-form" data-smooth' in html
    assert (
        'name="sx" form="compare-form" data-scatter-x><optgroup label="Params"><option value="p.lr">' in html
    )
    assert '<option value="m.acc" selected>acc</option>' in html
    assert 'name="dim" value="p.lr" form="compare-form" checked' in html
    assert 'name="dim" value="p.opt" form="compare-form">' in html
    assert 'name="brush" value="p.lr:0.25:0.75" data-brush' in html
    assert 'name="xmin" value="1.0"' in html and 'name="xmax" value="3.5"' in html
    assert "data-compare-notes" not in html


def test_defaults_choose_the_first_metric_and_the_params_that_differ(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    html = page(admin_ui, three_runs(services, admin, experiment))
    assert 'name="metric" value="acc" form="compare-form" checked' in html
    assert 'name="metric" value="loss" form="compare-form">' in html
    assert '<option value="step" selected>' in html
    assert 'name="dim" value="p.lr" form="compare-form" checked' in html  # differs
    assert 'name="dim" value="p.opt" form="compare-form">' in html  # the same everywhere
    assert 'name="dim" value="m.acc" form="compare-form" checked' in html
    assert '<option value="p.lr" selected>lr</option>' in html  # scatter x: the numeric param that differs


def test_an_empty_list_in_the_url_stays_empty(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    html = page(admin_ui, three_runs(services, admin, experiment), "&metric=&dim=&color=")
    assert 'name="metric" value="acc" form="compare-form">' in html
    assert 'name="dim" value="p.lr" form="compare-form">' in html
    assert '<option value="" selected>(one colour)</option>' in html


def test_choices_these_runs_cannot_honour_are_left_out_with_a_note(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = three_runs(services, admin, experiment)
    html = page(admin_ui, ids, "&metric=nope&sx=p.nope&dim=m.nope&color=p.opt&brush=p.lr:0.5:0.2")
    assert "data-compare-notes" in html
    for note in (
        "metric &#39;nope&#39; is not logged by any of these runs",
        "scatter axis &#39;p.nope&#39; is not a param or metric of these runs",
        "dimension &#39;m.nope&#39; is not a param or metric of these runs",
        "colour &#39;p.opt&#39; is not a numeric param or metric of these runs",
        "brush &#39;p.lr:0.5:0.2&#39; does not fit the chosen dimensions",
    ):
        assert note in html


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("&x=sideways", "Invalid value &#39;sideways&#39; for parameter &#39;x&#39;: expected one of step, wall, relative."),
        ("&smooth=2", "Invalid value &#39;2&#39; for parameter &#39;smooth&#39;: expected a number between 0 and 0.99."),
        ("&smooth=nan", "parameter &#39;smooth&#39;"),
        ("&diff=yes", "Invalid value &#39;yes&#39; for parameter &#39;diff&#39;: expected 1 or 0."),
        ("&xmin=abc", "parameter &#39;xmin&#39;: expected a number"),
        ("&xmin=5&xmax=1", "&#39;xmin&#39; is greater than &#39;xmax&#39;"),
    ],
)  # fmt: skip
def test_a_malformed_choice_is_a_400_page_naming_the_parameter(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str, extra: str, message: str
) -> None:
    ids = three_runs(services, admin, experiment)
    response = admin_ui.get(f"/compare?runs={','.join(ids)}{extra}")
    assert response.status_code == 400
    assert message in response.text
    assert 'aria-label="Main"' in response.text  # the error page keeps the navigation


def test_the_page_data_gives_numbers_for_numeric_params_and_text_for_the_others(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = three_runs(services, admin, experiment)
    data = compare_data(page(admin_ui, ids))
    dims = {d["id"]: d for d in data["dims"]}  # type: ignore[attr-defined]
    assert dims["p.lr"]["values"] == [0.1, 0.01, 0.001] and dims["p.lr"]["numeric"]
    assert dims["p.opt"]["values"] == ["adam"] * 3 and dims["p.opt"]["categories"] == ["adam"]
    assert dims["m.loss"]["values"] == [0.2, 1.1428571428571428, 2.111111111111111]
    assert [r["id"] for r in data["runs"]] == ids  # type: ignore[index]


def test_the_page_needs_a_session(ui: TestClient) -> None:
    response = ui.get("/compare?runs=a,b", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/compare%3Fruns%3Da%2Cb"


def test_every_x_axis_of_the_chart_data_is_offered(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    html = page(admin_ui, three_runs(services, admin, experiment))
    for axis in XAxis:
        assert f'<option value="{axis.value}"' in html


def test_comparing_changes_nothing_and_so_writes_no_audit_event(
    admin_ui: TestClient, services: Services, admin: Principal, experiment: str
) -> None:
    ids = three_runs(services, admin, experiment)
    services.audit.flush(everything=True)
    _, before = services.audit.query(admin, limit=1)
    page(admin_ui, ids, "&diff=1&metric=loss")
    services.audit.flush(everything=True)
    _, after = services.audit.query(admin, limit=1)
    assert after == before
