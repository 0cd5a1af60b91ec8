"""The run page with the test client: the overview (facts, git, environment, relatives, datasets,
registered versions, params, metrics), tags and description changed through the page (audited with
the user), who may see and change what, the charts tab's settings, and escaping."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Metric
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.helpers import csrf_of
from tests.ui.run_helpers import XSS_IMG, XSS_SCRIPT, Team, make_team, principal


@pytest.fixture
def team(services: Services, make_user: Callable[..., UserCreds]) -> Team:
    return make_team(services, make_user)


def _fact(page: str, name: str) -> str:
    found = re.search(rf'<dd data-fact="{name}">(.*?)</dd>', page, re.S)
    assert found is not None, f"no fact {name}"
    return found.group(1)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def test_the_overview_shows_the_run(
    user_ui: Callable[[UserCreds], TestClient], services: Services, team: Team
) -> None:
    page = user_ui(team.alice).get(f"/runs/{team.run_id}")
    assert page.status_code == 200
    text = page.text
    assert "<h1 data-run-name>train-v1</h1>" in text
    assert _text(_fact(text, "status")) == "Finished"
    assert '<time datetime="2023-11-14T22:13:20Z"' in _fact(text, "start")
    assert '<time datetime="2023-11-14T22:15:25Z"' in _fact(text, "end")
    assert _text(_fact(text, "duration")) == "2 min 5 s"
    assert _text(_fact(text, "user")) == "alice"
    assert _text(_fact(text, "source")) == "train.py (LOCAL)"
    commit = _fact(text, "git-commit")
    assert 'href="https://github.com/acme/churn/commit/0123456789abcdef0123"' in commit
    assert _text(commit) == "0123456789abcdef0123"
    assert _text(_fact(text, "git-branch")) == "main"
    assert _text(_fact(text, "git-dirty")) == "yes (the working tree was dirty)"
    assert _text(_fact(text, "git-remote")) == "https://github.com/acme/churn.git"
    assert _text(_fact(text, "python")) == "3.11.9"
    packages = _fact(text, "packages")
    assert "2 installed packages recorded" in packages
    assert re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", packages) == [
        ("numpy", "2.1.0"),
        ("scikit-learn", "1.5.0"),
    ]
    assert f'<a href="/runs/{team.parent_id}">sweep</a>' in _fact(text, "parent")
    children = re.search(r"<ul[^>]*data-children>(.*?)</ul>", text, re.S)
    assert children is not None
    assert re.findall(r'href="/runs/([0-9a-f]+)">(fold-\d)<', children.group(1)) == [
        (team.child_ids[i], f"fold-{i}") for i in range(3)
    ]
    datasets = re.search(r"<table[^>]*data-datasets>(.*?)</table>", text, re.S)
    assert datasets is not None
    alice = principal(services, team.alice)
    dataset_id = services.run_details.details(alice, team.run_id).datasets[0].dataset_id
    assert f'<a href="/datasets/customers?version={dataset_id}">customers</a>' in datasets.group(1)
    assert "training" in datasets.group(1)
    versions = re.search(r"<ul[^>]*data-registered-versions>(.*?)</ul>", text, re.S)
    assert versions is not None
    assert _text(versions.group(1)) == "churn version 1"
    assert 'href="/models/churn/versions/1"' in versions.group(1)
    assert '<div class="description-text" data-description>first try</div>' in text


def test_params_metrics_and_tags_are_listed_with_their_values(
    user_ui: Callable[[UserCreds], TestClient], services: Services, team: Team
) -> None:
    alice = principal(services, team.alice)
    services.tracking.log_batch(
        alice,
        team.run_id,
        metrics=[Metric("acc", v, 1_700_000_000_000 + s, s) for s, v in enumerate([0.5, 0.9, 0.7])],
    )
    text = user_ui(team.alice).get(f"/runs/{team.run_id}").text
    params = re.search(r"<table[^>]*data-params>(.*?)</table>", text, re.S)
    assert params is not None
    assert re.findall(r'<th scope="row">(.*?)</th><td class="value">(.*?)</td>', params.group(1)) == [
        ("C", "1.0"),
        ("solver", "lbfgs"),
    ]
    rows = dict(
        (key, (latest, mn, mx, count))
        for key, latest, mn, mx, count in re.findall(
            r'<tr data-metric="(.*?)">.*?data-latest>(.*?)</td>.*?data-min>(.*?)</td>.*?data-max>(.*?)</td>'
            r".*?data-count>(.*?)</td>",
            text,
            re.S,
        )
    )
    assert rows == {"acc": ("0.7", "0.5", "0.9", "3"), "loss": ("0.02", "0.02", "1", "50")}
    user_tags = re.search(r"<table[^>]*data-user-tags>(.*?)</table>", text, re.S)
    assert user_tags is not None
    assert re.findall(r'<tr data-tag="(.*?)">', user_tags.group(1)) == ["team"]
    assert 'value="growth"' in user_tags.group(1)
    system = re.search(r"<table[^>]*data-system-tags>(.*?)</table>", text, re.S)
    assert system is not None
    keys = re.findall(r'<th scope="row">(.*?)</th>', system.group(1))
    assert "mlflow.source.name" in keys and "mlflow.runName" in keys
    assert "mlflow.note.content" not in keys  # it is the description, shown above


def _post(client: TestClient, url: str, data: dict[str, str], *, htmx: bool = True) -> httpx.Response:
    """POST as the run page does: with htmx (the CSRF token in a header), or as a plain form."""
    run_page = "/".join(url.split("/")[:3])
    csrf = csrf_of(client.get(run_page))
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf} if htmx else {}
    body = data if htmx else {**data, "csrf_token": csrf}
    return client.post(url, data=body, headers=headers, follow_redirects=False)


def test_a_tag_set_changed_and_deleted_from_the_page_is_audited_with_the_user(
    user_ui: Callable[[UserCreds], TestClient], services: Services, admin: Principal, team: Team
) -> None:
    client = user_ui(team.alice)
    url = f"/runs/{team.run_id}"
    answer = _post(client, f"{url}/tags", {"key": "stage", "value": "candidate"})
    assert answer.status_code == 200
    assert answer.headers["HX-Trigger"] == '{"modelyard:announce": "Tag stage saved"}'
    fragment = answer.text
    assert fragment.startswith('<section id="tags"')
    assert re.findall(r'<tr data-tag="(.*?)">', fragment) == ["stage", "team"]
    _post(client, f"{url}/tags", {"key": "stage", "value": "champion"})
    assert services.tracking.get_run(admin, team.run_id).tags["stage"] == "champion"
    answer = _post(client, f"{url}/tags/delete", {"key": "team"}, htmx=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/runs/{team.run_id}#tags"
    assert "team" not in services.tracking.get_run(admin, team.run_id).tags
    events, _ = services.audit.query(admin, resource_type="run", resource_id=team.run_id, limit=100)
    mine = sorted(
        (e for e in events if e.actor == "alice" and e.action in ("log", "delete_tag")), key=lambda e: e.seq
    )
    assert [(e.action, e.changes) for e in mine][-3:] == [
        ("log", {"details": {"tags": {"stage": "candidate"}}}),
        ("log", {"details": {"tags": {"stage": "champion"}}}),
        ("delete_tag", {"before": {"tags.team": "growth"}, "after": {"tags.team": None}}),
    ]


def test_system_tags_and_bad_keys_are_refused_inline(
    user_ui: Callable[[UserCreds], TestClient], services: Services, admin: Principal, team: Team
) -> None:
    client = user_ui(team.alice)
    url = f"/runs/{team.run_id}/tags"
    answer = _post(client, url, {"key": "mlflow.runName", "value": "renamed"})
    assert answer.status_code == 400
    assert "&#39;mlflow.runName&#39; is a system tag" in answer.text
    assert 'aria-invalid="true"' in answer.text
    answer = _post(client, url, {"key": "a..b/../c", "value": "x"})
    assert answer.status_code == 400
    assert "Invalid tag name" in answer.text
    assert 'value="a..b/../c"' in answer.text  # what was typed stays
    assert services.tracking.get_run(admin, team.run_id).run_name == "train-v1"
    # without the CSRF token: the guard's 403 page, nothing changed
    refused = client.post(url, data={"key": "x", "value": "y"})
    assert refused.status_code == 403
    assert "x" not in services.tracking.get_run(admin, team.run_id).tags


def test_the_description_is_edited_and_cleared(
    user_ui: Callable[[UserCreds], TestClient], services: Services, admin: Principal, team: Team
) -> None:
    client = user_ui(team.alice)
    url = f"/runs/{team.run_id}/description"
    answer = _post(client, url, {"description": "Tuned C.\nSecond line."})
    assert answer.status_code == 200
    assert "data-description>Tuned C.\nSecond line.</div>" in answer.text
    assert (
        services.tracking.get_run(admin, team.run_id).tags["mlflow.note.content"] == "Tuned C.\nSecond line."
    )
    _post(client, url, {"description": "  "}, htmx=False)
    assert "mlflow.note.content" not in services.tracking.get_run(admin, team.run_id).tags
    events, _ = services.audit.query(admin, resource_type="run", resource_id=team.run_id, action="delete_tag")
    assert [e.actor for e in events] == ["alice"]


def test_a_viewer_sees_the_run_read_only_and_cannot_change_it(
    user_ui: Callable[[UserCreds], TestClient], services: Services, admin: Principal, team: Team
) -> None:
    client = user_ui(team.vera)
    page = client.get(f"/runs/{team.run_id}")
    assert page.status_code == 200
    assert "read-only for you" in page.text
    assert f'action="/runs/{team.run_id}/tags"' not in page.text
    assert "Edit the description" not in page.text
    answer = _post(client, f"/runs/{team.run_id}/tags", {"key": "x", "value": "y"})
    assert answer.status_code == 403
    assert "needs the &#39;member&#39; role" in answer.text
    assert "x" not in services.tracking.get_run(admin, team.run_id).tags


def test_another_groups_run_is_the_same_404_page_as_a_missing_one(
    user_ui: Callable[[UserCreds], TestClient], team: Team
) -> None:
    client = user_ui(team.bob)
    foreign = client.get(f"/runs/{team.run_id}")
    missing = client.get("/runs/0123456789abcdef0123456789abcdef")
    assert foreign.status_code == missing.status_code == 404
    assert "data-error-message>Run with id=" in foreign.text
    assert foreign.text.replace(team.run_id, "X") == missing.text.replace(
        "0123456789abcdef0123456789abcdef", "X"
    )
    assert 'aria-label="Main"' in foreign.text  # the error page keeps the navigation
    for path in ("?tab=artifacts", "/artifacts/download?path=model/MLmodel", "/artifacts/zip?path=model"):
        assert client.get(f"/runs/{team.run_id}{path}").status_code == 404
    answer = _post(client, f"/runs/{team.run_id}/tags", {"key": "x", "value": "y"})
    assert answer.status_code == 404


def test_the_registered_versions_are_those_the_user_may_see(
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    make_user: Callable[..., UserCreds],
    team: Team,
) -> None:
    # dave reads team-a's run; the model version made from it is in team-b's registry, which alice
    # does not see
    dave = make_user("dave", group="team-b")
    services.identity.set_member(Principal.system(), group="team-a", username="dave", role="viewer")
    dave_p = principal(services, dave)
    services.registry.create_registered_model(dave_p, name="churn-b", group="team-b")
    services.registry.create_model_version(
        dave_p, name="churn-b", source=f"runs:/{team.run_id}/model", run_id=team.run_id
    )
    alice_page = user_ui(team.alice).get(f"/runs/{team.run_id}").text
    dave_page = user_ui(dave).get(f"/runs/{team.run_id}").text
    assert "churn-b" not in alice_page
    assert "churn-b version 1" in dave_page and "churn version 1" in dave_page


def test_relatives_in_a_group_the_user_cannot_read_are_not_shown(
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    make_user: Callable[..., UserCreds],
    team: Team,
) -> None:
    dave = make_user("dave", group="team-b")
    other = services.experiments.create_experiment(principal(services, dave), name="team-b-exp")
    services.identity.set_member(Principal.system(), group="team-a", username="dave", role="viewer")
    dave_p = principal(services, dave)
    b_parent = services.tracking.create_run(dave_p, experiment_id=other, run_name="b-parent")
    services.tracking.create_run(
        dave_p, experiment_id=other, run_name="b-child", tags={"mlflow.parentRunId": team.run_id}
    )
    # a run of team-a whose parent is in team-b (dave may write both)
    services.identity.set_member(Principal.system(), group="team-a", username="dave", role="member")
    dave_p = principal(services, dave)
    orphan = services.tracking.create_run(
        dave_p,
        experiment_id=team.experiment_id,
        run_name="a-run",
        tags={"mlflow.parentRunId": b_parent.run_id},
    )
    alice = user_ui(team.alice)
    page = alice.get(f"/runs/{team.run_id}").text
    assert 'Child runs <span class="muted">(3)</span>' in page and "b-child" not in page
    parent = _fact(alice.get(f"/runs/{orphan.run_id}").text, "parent")
    assert _text(parent) == f"{b_parent.run_id} (not visible to you)"
    assert "href" not in parent and "b-parent" not in parent
    dave_page = user_ui(dave).get(f"/runs/{team.run_id}").text
    assert 'Child runs <span class="muted">(4)</span>' in dave_page and "b-child" in dave_page


def test_a_bad_tab_or_chart_setting_is_a_400_page_naming_it(
    user_ui: Callable[[UserCreds], TestClient], team: Team
) -> None:
    client = user_ui(team.alice)
    for query, message in (
        ("tab=nope", "Invalid value &#39;nope&#39; for parameter &#39;tab&#39;"),
        ("tab=charts&x=epoch", "Invalid value &#39;epoch&#39; for parameter &#39;x&#39;"),
        ("tab=charts&smooth=2", "Invalid value &#39;2&#39; for parameter &#39;smooth&#39;"),
        ("tab=charts&smooth=nan", "Invalid value &#39;nan&#39; for parameter &#39;smooth&#39;"),
        ("tab=charts&log=maybe", "Invalid value &#39;maybe&#39; for parameter &#39;log&#39;"),
        ("tab=artifacts&start=-1", "Invalid value &#39;-1&#39; for parameter &#39;start&#39;"),
    ):
        page = client.get(f"/runs/{team.run_id}?{query}")
        assert page.status_code == 400, query
        assert message in page.text, query


def test_the_charts_tab_reads_its_settings_from_the_url(
    user_ui: Callable[[UserCreds], TestClient], services: Services, team: Team
) -> None:
    alice = principal(services, team.alice)
    keys = [f"m{i:02d}" for i in range(12)]
    services.tracking.log_batch(alice, team.run_id, metrics=[Metric(k, 1.0, 1, 0) for k in keys])
    client = user_ui(team.alice)
    default = client.get(f"/runs/{team.run_id}?tab=charts").text
    assert re.findall(r'data-chart data-keys="(.*?)"', default) == [
        f"[&#34;{k}&#34;]" for k in ["loss", *keys]
    ]
    chosen = client.get(
        f"/runs/{team.run_id}?tab=charts&x=relative&log=1&smooth=0.6&chart=loss,m00&chart=nope&chart={','.join(keys)}"
    ).text
    assert 'data-x="relative" data-log="1" data-smooth="0.6"' in chosen
    assert re.findall(r'data-chart data-keys="(.*?)"', chosen) == [
        "[&#34;loss&#34;,&#34;m00&#34;]",
        "[" + ",".join(f"&#34;{k}&#34;" for k in keys[:10]) + "]",
    ]
    notices = re.findall(r"<p class=\"alert alert-warn\" data-chart-notice>(.*?)</p>", chosen)
    assert notices == [
        "Chart 3 asked for 12 metrics; a chart draws at most 10, so it shows the first 10. Put the others "
        "on another chart with the chooser.",
        "This run has no metric &#39;nope&#39;: left out of the charts.",
    ]
    assert '<option value="relative" selected>' in chosen
    assert "data-log-scale checked" in chosen


def test_names_tags_params_and_descriptions_are_escaped(
    user_ui: Callable[[UserCreds], TestClient], services: Services, team: Team
) -> None:
    alice = principal(services, team.alice)
    services.tracking.update_run(alice, team.run_id, run_name=XSS_SCRIPT)
    services.tracking.log_batch(
        alice,
        team.run_id,
        params={"evil": XSS_IMG},
        tags={"note": XSS_SCRIPT, "mlflow.note.content": XSS_IMG, "mlflow.source.name": XSS_SCRIPT},
    )
    page = user_ui(team.alice).get(f"/runs/{team.run_id}").text
    for raw in (XSS_SCRIPT, XSS_IMG):
        assert raw not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in page
