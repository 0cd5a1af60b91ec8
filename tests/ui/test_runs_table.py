"""The runs table with the test client: columns, sort in both directions with missing values, the
filter and its refusals (with where they point), keyset paging through every run once, nested runs,
several experiments, two groups that cannot see each other's runs, escaping, bad parameters, the
count, empty states, and deleting/restoring the selection (audited with the user)."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import LifecycleStage
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.helpers import csrf_of
from tests.ui.runs_data import Spec, experiment, make_runs

XSS = ["<script>window.__xss=1</script>", '"><img src=x onerror="window.__xss=1">']
Users = Callable[[UserCreds], TestClient]
ROWS = "/ui/fragments/runs-table/rows"


def run_ids(page: str) -> list[str]:
    """The runs of a page's table (or of a rows fragment), top to bottom."""
    body = (
        page.split("<tbody data-runs-body>")[1].split("</tbody>", maxsplit=1)[0] if "<tbody" in page else page
    )
    return re.findall(r'<tr data-run-id="([^"]+)"', body)


def headers(page: str) -> list[str]:
    head = page.split("<thead>")[1].split("</thead>", maxsplit=1)[0]
    cells = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', head, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>|[▲▼]", " ", c)).split()) for c in cells][1:]


def row_html(page: str, run_id: str) -> str:
    return page.split(f'<tr data-run-id="{run_id}"')[1].split("</tr>", maxsplit=1)[0]


def row_cells(page: str, run_id: str) -> list[str]:
    row = row_html(page, run_id)
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells][1:]


def aria_sort(page: str) -> dict[str, str]:
    head = page.split("<thead>")[1].split("</thead>", maxsplit=1)[0]
    found = re.findall(r'<th scope="col" aria-sort="(\w+)"[^>]*>(.*?)</th>', head, re.S)
    return {" ".join(re.sub(r"<[^>]+>|[▲▼]", " ", label).split()): sort for sort, label in found}


def principal(services: Services, creds: UserCreds) -> Principal:
    return services.identity.authenticate_token(creds.token)


@pytest.fixture
def basic(services: Services, admin: Principal) -> tuple[str, dict[str, str]]:
    eid = experiment(services, admin, "basic")
    ids = make_runs(
        services,
        admin,
        eid,
        [
            Spec(
                "one",
                {"lr": "0.1", "model": "tree", "opt": "sgd", "zeta": "z"},
                {"a": 0.1234567, "b": 2.0, "c": 3.0, "d": 4.0},
                end=5,
                history={"a": [3.0, -1.5, 0.25]},
            ),
            Spec("two", {"lr": "0.2", "model": "svm"}, {"a": math.nan, "b": 1.0}, start=1, end=3),
            Spec(
                "three",
                {"model": "tree"},
                {"b": 0.5},
                start=2,
                tags={"team": "red", "mlflow.source.name": "train.py"},
            ),
        ],
    )
    return eid, ids


def test_default_columns_and_what_the_cells_say(
    admin_ui: TestClient, basic: tuple[str, dict[str, str]]
) -> None:
    eid, ids = basic
    page = admin_ui.get(f"/experiments/{eid}")
    assert page.status_code == 200
    assert headers(page.text) == [
        "Name",
        "Status",
        "Started",
        "Duration",
        "param lr",
        "param model",
        "param opt",
        "metric a",
        "metric b",
        "metric c",
    ]
    assert run_ids(page.text) == [ids["three"], ids["two"], ids["one"]], "newest first"
    assert row_cells(page.text, ids["one"]) == [
        "one",
        "finished",
        "2023-11-14 22:13:20 UTC",
        "5.0 s",
        "0.1",
        "tree",
        "sgd",
        "0.123457",
        "2",
        "3",
    ]
    assert row_cells(page.text, ids["two"])[7] == "NaN"
    three = row_cells(page.text, ids["three"])
    assert three[1] == "running" and three[3] == three[4] == three[7] == "— none"
    assert "4 runs" not in page.text and "3 runs" in page.text
    assert aria_sort(page.text)["Started"] == "descending"


def test_chosen_columns_are_in_the_url_with_min_and_max(
    admin_ui: TestClient, basic: tuple[str, dict[str, str]]
) -> None:
    eid, ids = basic
    page = admin_ui.get(
        f"/experiments/{eid}?cols=param:zeta,min:a,max:a,tag:team,source,user_id,run_id,end_time"
    ).text
    assert headers(page) == [
        "Name",
        "param zeta",
        "min a",
        "max a",
        "tag team",
        "Source",
        "User",
        "Run id",
        "Ended",
    ]
    assert row_cells(page, ids["one"])[1:4] == ["z", "-1.5", "3"]
    assert row_cells(page, ids["three"])[4:6] == ["red", "train.py"]
    assert row_cells(page, ids["one"])[7] == ids["one"]
    # the column chooser has them ticked, and the sort links keep them
    assert 'value="min:a" checked' in page and 'value="param:lr">' in page
    assert "cols=param%3Azeta%2Cmin%3Aa%2Cmax%3Aa" in page
    assert headers(admin_ui.get(f"/experiments/{eid}?cols=").text) == ["Name"]
    chooser = admin_ui.get(f"/experiments/{eid}?col=&col=metric:d&col=status").text
    assert headers(chooser) == ["Name", "metric d", "Status"]


@pytest.fixture
def sortable(services: Services, admin: Principal) -> tuple[str, dict[str, str]]:
    eid = experiment(services, admin, "sortable")
    ids = make_runs(
        services,
        admin,
        eid,
        [
            Spec("m2a", {"p": "b"}, {"m": 2.0}, end=9),
            Spec("mnan", {"p": "a"}, {"m": math.nan}, end=9),
            Spec("mnone", {}, {}, end=9),
            Spec("m1", {"p": "c"}, {"m": 1.0}, end=9),
            Spec("m2b", {"p": "B"}, {"m": 2.0}, end=9),
        ],
    )
    return eid, ids


def test_sort_by_any_column_both_ways_puts_missing_values_last(
    admin_ui: TestClient, sortable: tuple[str, dict[str, str]]
) -> None:
    eid, ids = sortable
    names = {v: k for k, v in ids.items()}
    ties = sorted([ids["m2a"], ids["m2b"]])

    def order(query: str) -> list[str]:
        return [names[r] for r in run_ids(admin_ui.get(f"/experiments/{eid}?{query}").text)]

    assert order("sort=metric:m&dir=asc") == ["m1", names[ties[0]], names[ties[1]], "mnan", "mnone"]
    assert order("sort=metric:m&dir=desc") == [names[ties[1]], names[ties[0]], "m1", "mnan", "mnone"]
    assert order("sort=param:p&dir=asc") == ["m2b", "mnan", "m2a", "m1", "mnone"]  # code points: B < a
    assert order("sort=param:p&dir=desc") == ["m1", "m2a", "mnan", "m2b", "mnone"]
    assert order("sort=name&dir=asc") == ["m1", "m2a", "m2b", "mnan", "mnone"]
    page = admin_ui.get(f"/experiments/{eid}?sort=metric:m&dir=asc&cols=metric:m").text
    assert aria_sort(page) == {"Name": "none", "metric m": "ascending"}
    # the header's button sorts the other way; another column starts high to low for numbers
    assert f'hx-get="/experiments/{eid}?sort=metric%3Am&amp;dir=desc&amp;cols=metric%3Am"' in page
    assert f'hx-get="/experiments/{eid}?sort=name&amp;dir=asc&amp;cols=metric%3Am"' in page


def test_the_filter_and_its_refusal_pointing_at_the_clause(
    admin_ui: TestClient, basic: tuple[str, dict[str, str]]
) -> None:
    eid, ids = basic
    page = admin_ui.get(f"/experiments/{eid}", params={"filter": "params.model = 'tree' and metrics.b < 1"})
    assert page.status_code == 200
    assert run_ids(page.text) == [ids["three"]]
    text = "params.model = 'tree' and metrics.b <"
    refused = admin_ui.get(f"/experiments/{eid}", params={"filter": text})
    assert refused.status_code == 400
    assert 'aria-invalid="true"' in refused.text
    assert f'data-error-start="{len(text)}" data-error-end="{len(text)}"' in refused.text
    assert "expected a number for metric &#39;b&#39;" in refused.text
    echo = refused.text.split('class="filter-echo"')[1].split("</p>")[0]
    assert (
        '<span class="bad-clause" data-filter-clause>metrics.b &lt;<mark data-filter-bad> </mark></span>'
        in echo
    )
    assert run_ids(refused.text) == [] and 'data-empty="invalid-filter"' in refused.text
    bad_token = admin_ui.get(f"/experiments/{eid}", params={"filter": "metrics.b ~ 1 and params.x = 'y'"})
    assert "<mark data-filter-bad>~</mark>" in bad_token.text
    assert (
        "data-filter-clause>metrics.b <mark data-filter-bad>~</mark> 1</span> and params.x" in bad_token.text
    )
    swapped = admin_ui.get(f"/experiments/{eid}", params={"filter": text}, headers={"HX-Request": "true"})
    assert swapped.status_code == 200, "htmx swaps only successes: the refusal is in the content"
    assert 'aria-invalid="true"' in swapped.text


def test_keyset_paging_returns_every_run_exactly_once(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    eid = experiment(services, admin, "many")
    specs = [
        Spec(
            f"run{i:03d}",
            {"p": f"v{i % 3}"} if i % 10 else {},
            {} if i % 13 == 0 else {"m": math.nan if i % 17 == 0 else float(i % 4)},
            start=i // 5,
        )
        for i in range(190)
    ]
    ids = make_runs(services, admin, eid, specs)
    for sort in (
        "",
        "&sort=metric:m&dir=asc",
        "&sort=metric:m&dir=desc",
        "&sort=param:p&dir=asc",
        "&sort=start_time&dir=asc",
    ):
        page = admin_ui.get(f"/experiments/{eid}?cols=metric:m{sort}").text
        seen = run_ids(page)
        assert len(seen) == 80 and 'data-more-after="true"' in page
        rows_url = html.unescape(re.search(r'data-rows-url="([^"]+)"', page).group(1))  # type: ignore[union-attr]
        more = True
        while more:
            answer = admin_ui.get(f"{rows_url}&after={seen[-1]}")
            assert answer.status_code == 200
            seen += run_ids(answer.text)
            more = answer.headers["X-Runs-More"] == "1"
        assert len(seen) == len(set(seen)) == len(ids), sort
        back = [seen[-1]]
        more = True
        while more:
            answer = admin_ui.get(f"{rows_url}&before={back[0]}")
            back = run_ids(answer.text) + back
            more = answer.headers["X-Runs-More"] == "1"
        assert back == seen, sort
    # a window from a run in the middle: that run first, and earlier ones before it
    middle = seen[100]
    page = admin_ui.get(f"/experiments/{eid}?cols=metric:m&sort=start_time&dir=asc&from={middle}").text
    assert run_ids(page)[0] == middle
    assert 'data-more-before="true"' in page and "Back to the first run" in page


def test_nested_runs_open_under_their_parent(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    eid = experiment(services, admin, "nested")
    ids = make_runs(
        services,
        admin,
        eid,
        [
            Spec("sweep", start=0),
            Spec("trial-1", {"lr": "0.1"}, parent="sweep", start=1),
            Spec("trial-2", {"lr": "0.2"}, parent="sweep", start=2),
            Spec("later", start=3),
        ],
    )
    closed = admin_ui.get(f"/experiments/{eid}").text
    assert run_ids(closed) == [ids["later"], ids["sweep"]]
    assert f'id="open-{ids["sweep"]}" data-toggle-open="{ids["sweep"]}" aria-expanded="false"' in closed
    assert '2<span class="visually-hidden"> child runs of sweep</span>' in closed
    opened = admin_ui.get(f"/experiments/{eid}?open={ids['sweep']}").text
    assert run_ids(opened) == [ids["later"], ids["sweep"], ids["trial-2"], ids["trial-1"]]
    assert 'class="name-cell depth-1"' in row_html(opened, ids["trial-2"])
    # a child that matches when its parent does not stands at the top level
    only = admin_ui.get(f"/experiments/{eid}", params={"filter": "params.lr = '0.1'"}).text
    assert run_ids(only) == [ids["trial-1"]]
    assert "depth-0" in row_html(only, ids["trial-1"])


def test_several_experiments_in_one_table(admin_ui: TestClient, services: Services, admin: Principal) -> None:
    first, second = experiment(services, admin, "first"), experiment(services, admin, "second")
    a = make_runs(services, admin, first, [Spec("a", start=1)])
    b = make_runs(services, admin, second, [Spec("b", start=2)])
    page = admin_ui.get(f"/runs?experiments={first},{second}")
    assert page.status_code == 200
    assert run_ids(page.text) == [b["b"], a["a"]]
    assert headers(page.text)[:2] == ["Name", "Experiment"]
    assert row_cells(page.text, b["b"])[1] == "second"
    assert "Runs of 2 experiments" in page.text
    assert f'hx-get="/runs?experiments={first}%2C{second}&amp;sort=name&amp;dir=asc"' in page.text
    assert admin_ui.get(f"/runs?experiments={first}&experiments={second}").status_code == 200


@pytest.fixture
def two_groups(
    make_user: Callable[..., UserCreds], user_ui: Users
) -> tuple[TestClient, TestClient, UserCreds, UserCreds]:
    ann, ben = make_user("ann", group="a"), make_user("ben", group="b")
    return user_ui(ann), user_ui(ben), ann, ben


def test_another_groups_experiment_answers_like_a_missing_one(
    services: Services, two_groups: tuple[TestClient, TestClient, UserCreds, UserCreds]
) -> None:
    ann_ui, ben_ui, ann, ben = two_groups
    a_id = experiment(services, principal(services, ann), "a-exp", group="a")
    b_id = experiment(services, principal(services, ben), "b-exp", group="b")
    secret = make_runs(services, principal(services, ann), a_id, [Spec("a-secret-run", {"k": "v"})])
    make_runs(services, principal(services, ben), b_id, [Spec("b-run")])
    for hidden, missing in (
        (f"/experiments/{a_id}", "/experiments/999999"),
        (f"/runs?experiments={b_id},{a_id}", f"/runs?experiments={b_id},999999"),
        (
            f"{ROWS}?experiments={a_id}&after={secret['a-secret-run']}",
            f"{ROWS}?experiments=999999&after={secret['a-secret-run']}",
        ),
        (
            f"/ui/fragments/runs-table/count?experiments={a_id}",
            "/ui/fragments/runs-table/count?experiments=999999",
        ),
    ):
        seen, absent = ben_ui.get(hidden), ben_ui.get(missing)
        assert seen.status_code == absent.status_code == 404, hidden
        said = [re.search(r"data-error-message>([^<]*)<", r.text).group(1) for r in (seen, absent)]  # type: ignore[union-attr]
        assert said[0].replace(a_id, "N") == said[1].replace("999999", "N")
        assert "a-secret-run" not in seen.text
    # a run of another group named as the window's start is not shown, nor said to exist
    page = ben_ui.get(f"/experiments/{b_id}?from={secret['a-secret-run']}").text
    assert "a-secret-run" not in page and "not in this table any more" in page
    # nor can it be deleted
    csrf = csrf_of(ben_ui.get(f"/experiments/{b_id}"))
    refused = ben_ui.post(
        "/runs/delete", data={"runs": secret["a-secret-run"], "csrf_token": csrf}, follow_redirects=False
    )
    assert refused.status_code == 404
    run = services.tracking.get_run(principal(services, ann), secret["a-secret-run"])
    assert run.lifecycle_stage == "active"
    assert run_ids(ann_ui.get(f"/experiments/{a_id}").text) == [secret["a-secret-run"]]


def test_html_in_names_keys_and_values_is_escaped(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    eid = experiment(services, admin, XSS[0])
    ids = make_runs(
        services,
        admin,
        eid,
        [Spec(XSS[i], {"p": XSS[1 - i]}, {"m": 1.0}, tags={"t": XSS[i]}) for i in range(2)],
    )
    pages = [
        admin_ui.get(f"/experiments/{eid}?cols=param:p,tag:t,metric:m").text,
        admin_ui.get(f"/runs?experiments={eid}&cols=param:p,tag:t").text,
        admin_ui.get(f"{ROWS}?experiments={eid}&cols=param:p,tag:t&after={ids[XSS[0]]}").text
        + admin_ui.get(f"{ROWS}?experiments={eid}&cols=param:p,tag:t&before={ids[XSS[0]]}").text,
        admin_ui.get(f"/experiments/{eid}", params={"filter": f"params.p = '{XSS[1]}'"}).text,
        admin_ui.get(f"/experiments/{eid}", params={"filter": f"params.p = '{XSS[0]}"}).text,  # refused
    ]
    for text in pages:
        assert "<script>window" not in text and "<img src=x" not in text and 'onerror="window' not in text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in pages[0]
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in pages[0]


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("cols=bogus", "Invalid column &#39;bogus&#39; in parameter &#39;cols&#39;"),
        ("cols=weird:k", "&#39;weird&#39; is not a column kind"),
        ("sort=min:a", "a metric&#39;s min and max cannot sort the table"),
        ("sort=name&dir=sideways", "Invalid value &#39;sideways&#39; for parameter &#39;dir&#39;"),
        ("from=../etc", "Invalid run id &#39;../etc&#39; in parameter &#39;from&#39;"),
        ("open=a,b%20c", "Invalid run id &#39;b c&#39; in parameter &#39;open&#39;"),
        ("deleted=yes", "parameter &#39;deleted&#39;: expected 1 or 0"),
        ("filter=" + "x" * 5000, "parameter &#39;filter&#39; is too long"),
    ],
)
def test_a_bad_parameter_is_a_400_page_naming_it(
    admin_ui: TestClient, basic: tuple[str, dict[str, str]], query: str, said: str
) -> None:
    eid, _ = basic
    answer = admin_ui.get(f"/experiments/{eid}?{query}")
    assert answer.status_code == 400
    assert said in answer.text
    assert 'class="main-nav"' in answer.text, "the error page keeps the navigation"


def test_bad_parameters_of_the_other_routes(admin_ui: TestClient, basic: tuple[str, dict[str, str]]) -> None:
    eid, _ = basic
    for url, said in (
        ("/runs", "Missing value for parameter &#39;experiments&#39;"),
        ("/runs?experiments=1,x", "Invalid experiment id &#39;x&#39;"),
        (f"{ROWS}?experiments={eid}", "Give one of the parameters &#39;after&#39; and &#39;before&#39;"),
        (f"{ROWS}?experiments={eid}&after=a&before=b", "Give one of the parameters"),
        ("/experiments/abc", "Invalid experiment id &#39;abc&#39;"),
    ):
        answer = admin_ui.get(url)
        assert answer.status_code == 400, url
        assert said in answer.text, url


def test_deleting_and_restoring_the_selection_is_audited_with_the_user(
    services: Services, admin: Principal, make_user: Callable[..., UserCreds], user_ui: Users
) -> None:
    dora = make_user("dora", group="lab")
    eid = experiment(services, principal(services, dora), "lab-exp", group="lab")
    ids = make_runs(
        services,
        principal(services, dora),
        eid,
        [Spec("keep"), Spec("drop-1", start=1), Spec("drop-2", start=2)],
    )
    client = user_ui(dora)
    page = client.get(f"/experiments/{eid}?sel={ids['drop-1']},{ids['drop-2']}")
    assert 'data-compare-link href="/compare?runs={},{}"'.format(ids["drop-1"], ids["drop-2"]) in page.text
    assert page.text.count("checked") >= 2
    back = f"/experiments/{eid}?sort=name&dir=asc&sel={ids['drop-1']}"
    gone = client.post(
        "/runs/delete",
        data={"runs": f"{ids['drop-1']},{ids['drop-2']}", "back": back, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert gone.headers["location"] == f"/experiments/{eid}?sort=name&dir=asc", (
        "back to the table, selection cleared"
    )
    assert run_ids(client.get(gone.headers["location"]).text) == [ids["keep"]]
    with_deleted = client.get(f"/experiments/{eid}?deleted=1").text
    assert sorted(run_ids(with_deleted)) == sorted(ids.values())
    assert with_deleted.count('<span class="badge">deleted</span>') == 2
    events, _ = services.audit.query(admin, resource_type="run", action="delete", user="dora")
    assert sorted(e.resource_id for e in events) == sorted([ids["drop-1"], ids["drop-2"]])
    restored = client.post(
        "/runs/restore",
        data={"runs": ids["drop-1"], "back": "https://evil.example/", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert restored.status_code == 303 and restored.headers["location"] == "/experiments"
    events, _ = services.audit.query(admin, resource_type="run", action="restore", user="dora")
    assert [e.resource_id for e in events] == [ids["drop-1"]]
    forged = client.post("/runs/delete", data={"runs": ids["keep"]}, follow_redirects=False)
    assert forged.status_code == 403
    assert services.tracking.get_run(admin, ids["keep"]).lifecycle_stage == "active"


def test_a_viewer_cannot_delete(
    services: Services, admin: Principal, make_user: Callable[..., UserCreds], user_ui: Users
) -> None:
    vic = make_user("vic", group="watchers", role="viewer")
    eid = experiment(services, admin, "watched", group="watchers")
    ids = make_runs(services, admin, eid, [Spec("r")])
    client = user_ui(vic)
    page = client.get(f"/experiments/{eid}")
    assert run_ids(page.text) == [ids["r"]]
    refused = client.post(
        "/runs/delete", data={"runs": ids["r"], "csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert refused.status_code == 403 and "needs the &#39;member&#39; role" in refused.text


def test_counts_and_empty_states(admin_ui: TestClient, services: Services, admin: Principal) -> None:
    eid = experiment(services, admin, "empty")
    page = admin_ui.get(f"/experiments/{eid}").text
    snippet = page.split("<pre data-snippet><code>")[1].split("</code>")[0]
    lines = html.unescape(snippet).strip().splitlines()
    assert lines[0] == "export MLFLOW_TRACKING_URI=http://testserver"
    assert lines[1].startswith("export MLFLOW_TRACKING_TOKEN=")
    assert f"mlflow.set_experiment(experiment_id='{eid}')" in lines[2] and len(lines) == 3
    ids = make_runs(services, admin, eid, [Spec("x", {"p": "1"}), Spec("y", {"p": "2"}, start=1)])
    none = admin_ui.get(f"/experiments/{eid}", params={"filter": "params.p = '3'"}).text
    assert 'data-empty="no-match"' in none and "No run matches <code>params.p = &#39;3&#39;</code>" in none
    assert f'href="/experiments/{eid}"' in none.split('data-empty="no-match"')[1], (
        "offers to clear the filter"
    )
    assert "0 runs match" in none
    filtered = admin_ui.get(f"/experiments/{eid}", params={"filter": "params.p = '1'"}).text
    assert 'hx-trigger="load"' in filtered and 'aria-busy="true"' in filtered, (
        "the count comes after the rows"
    )
    count = admin_ui.get(f"/ui/fragments/runs-table/count?experiments={eid}&filter=params.p+%3D+%271%27")
    assert "1 run match" in count.text
    assert count.headers["HX-Trigger"] == '{"modelyard:announce": "1 run match"}'
    for run_id in ids.values():
        services.tracking.set_run_lifecycle(admin, run_id, LifecycleStage.DELETED)
    only_deleted = admin_ui.get(f"/experiments/{eid}").text
    assert 'data-empty="only-deleted"' in only_deleted and f"/experiments/{eid}?deleted=1" in only_deleted
