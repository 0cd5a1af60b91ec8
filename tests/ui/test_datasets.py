"""The datasets pages with the test client: the list of dataset names (and its results fragment), a
dataset's page with its versions, the selected version's schema and profile as tables, and the runs
that used it — only for the groups of the experiments whose runs used it, escaped."""

from __future__ import annotations

import json
from collections.abc import Callable
from html import unescape
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.domain.tracking import Dataset, DatasetInput
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.registry_helpers import DATASET_PROFILE, DATASET_SCHEMA, seed

XSS = ("<script>window.__xss=1</script>", '"><img src=x onerror="window.__xss=1">')
TENSOR_SCHEMA = json.dumps(
    {
        "mlflow_tensorspec": {
            "features": json.dumps(
                [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]
            ),
            "targets": json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]),
        }
    }
)


def url_of(name: str, dataset_id: str | None = None) -> str:
    url = f"/datasets/{quote(name, safe='')}"
    return f"{url}?version={dataset_id}" if dataset_id else url


def log_dataset(
    services: Services,
    actor: Principal,
    experiment_id: str,
    name: str,
    digest: str,
    *,
    run_name: str = "run",
    schema: str | None = DATASET_SCHEMA,
    profile: str | None = DATASET_PROFILE,
    context: str | None = "training",
    source: str = "s3://bucket/data.csv",
) -> tuple[str, str]:
    """A run in the experiment that used dataset ``name``@``digest``: (run id, dataset version id)."""
    run = services.tracking.create_run(actor, experiment_id=experiment_id, run_name=run_name)
    tags = {"mlflow.data.context": context} if context else {}
    services.tracking.log_inputs(
        actor, run.run_id, datasets=[DatasetInput(Dataset(name, digest, "s3", source, schema, profile), tags)]
    )
    found = [v for v in services.datasets.dataset_versions(actor, name) if v.digest == digest]
    return run.run_id, found[0].dataset_id


@pytest.fixture
def eid(services: Services, admin: Principal) -> str:
    return services.experiments.create_experiment(admin, name="data-exp")


def test_no_datasets_says_how_to_log_one(admin_ui: TestClient) -> None:
    page = admin_ui.get("/datasets")
    assert page.status_code == 200
    assert "data-empty-state" in page.text and "mlflow.log_input(dataset" in page.text


def test_the_list_counts_versions_experiments_and_runs_per_name(
    admin_ui: TestClient, services: Services, admin: Principal, eid: str
) -> None:
    other = services.experiments.create_experiment(admin, name="other-exp")
    log_dataset(services, admin, eid, "train", "aaa")
    log_dataset(services, admin, eid, "train", "bbb")
    log_dataset(services, admin, other, "train", "aaa")
    log_dataset(services, admin, eid, "eval", "ccc")
    page = admin_ui.get("/datasets").text
    row = page[page.index('data-dataset="train"') : page.index("</tr>", page.index('data-dataset="train"'))]
    assert '<a href="/datasets/train">train</a>' in row
    assert [c.split("</td>")[0] for c in row.split('<td class="num">')[1:]] == ["3", "2", "3"]
    assert page.index('data-dataset="eval"') < page.index('data-dataset="train"')  # by name
    searched = admin_ui.get("/datasets?q=TRA").text
    assert 'data-dataset="train"' in searched and 'data-dataset="eval"' not in searched
    fragment = admin_ui.get("/ui/fragments/datasets?q=ev")
    assert fragment.text.lstrip().startswith('<div id="datasets-results"')
    assert 'data-dataset="eval"' in fragment.text and 'data-dataset="train"' not in fragment.text
    assert fragment.headers["hx-push-url"] == "/datasets?q=ev"
    assert "data-no-match" in admin_ui.get("/datasets?q=zzz").text


def test_the_list_is_paged_by_name(
    services: Services, admin: Principal, eid: str, admin_ui: TestClient
) -> None:
    for i in range(3):
        log_dataset(services, admin, eid, f"d{i}", "x")
    first, after = services.datasets.list_datasets(admin, max_results=2)
    assert [d.name for d in first] == ["d0", "d1"] and after == "d1"
    rest, after = services.datasets.list_datasets(admin, after=after, max_results=2)
    assert [d.name for d in rest] == ["d2"] and after is None
    page = admin_ui.get("/datasets?after=d1").text
    assert 'data-dataset="d2"' in page and 'data-dataset="d0"' not in page


def test_a_dataset_page_shows_versions_schema_profile_and_the_runs_that_used_it(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seeded = seed(services, admin, "iris")  # a run that used iris-train and whose model is iris v1
    other_run, newer = log_dataset(
        services,
        admin,
        seeded.experiment_id,
        "iris-train",
        "n3w",
        run_name="eval-run",
        schema=TENSOR_SCHEMA,
        profile=json.dumps({"features_shape": [150, 4], "features_nbytes": 4800}),
        context="eval",
    )
    page = admin_ui.get("/datasets/iris-train")
    assert page.status_code == 200
    text = page.text
    assert "<h1 data-dataset-name>iris-train</h1>" in text
    # both versions, newest first; the newest is the one shown
    assert text.index(f'data-dataset-version="{newer}"') < text.index(
        f'data-dataset-version="{seeded.dataset_id}"'
    )
    assert f'data-selected-version="{newer}"' in text
    assert "<caption>Tensors: features</caption>" in text
    assert "<tr><td>(position 0)</td><td>tensor of float64</td><td>(-1, 4)</td><td>yes</td></tr>" in text
    assert "<tr><td>features_shape</td><td>[150, 4]</td></tr>" in text
    assert f'<a href="/runs/{other_run}">eval-run</a>' in text and "<td>eval</td>" in text
    assert "Runs 1 to 1 of 1." in text
    old = admin_ui.get(url_of("iris-train", seeded.dataset_id)).text
    assert f'data-selected-version="{seeded.dataset_id}"' in old
    assert "<caption>Columns</caption>" in old
    assert "<tr><td>sepal length</td><td>double</td><td>—</td><td>yes</td></tr>" in old
    assert "<tr><td>species</td><td>string</td><td>—</td><td>yes</td></tr>" in old
    assert "<tr><td>num_rows</td><td>150</td></tr>" in old
    run = old[old.index(f'data-run="{seeded.run_id}"') :]
    assert f'<a href="/runs/{seeded.run_id}">train-iris</a>' in run and "<td>training</td>" in run
    assert '<a href="/models/iris/versions/1">iris v1</a>' in run


def test_runs_that_used_a_version_are_paged(
    services: Services, admin: Principal, eid: str, admin_ui: TestClient
) -> None:
    ids = [log_dataset(services, admin, eid, "shared", "same", run_name=f"r{i}")[0] for i in range(3)]
    dataset_id = services.datasets.dataset_versions(admin, "shared")[0].dataset_id
    first, total = services.datasets.dataset_runs(admin, dataset_id, max_results=2)
    rest, _ = services.datasets.dataset_runs(admin, dataset_id, offset=2, max_results=2)
    assert total == 3 and len(first) == 2 and len(rest) == 1
    assert {r.run_id for r in first + rest} == set(ids)
    page = admin_ui.get("/datasets/shared?runs_from=2").text
    assert "Runs 3 to 3 of 3." in page and "Newer runs" in page
    assert admin_ui.get("/datasets/shared?runs_from=-1").status_code == 400
    assert admin_ui.get("/datasets/shared?runs_from=many").status_code == 400


def test_a_schema_or_profile_of_unknown_shape_is_shown_as_text(
    admin_ui: TestClient, services: Services, admin: Principal, eid: str
) -> None:
    log_dataset(services, admin, eid, "odd", "1", schema='{"fields": 3}', profile="not json at all")
    page = admin_ui.get("/datasets/odd").text
    assert "data-schema-raw" in page and "&#34;fields&#34;: 3" in page
    assert "data-profile-raw" in page and "not json at all" in page
    log_dataset(services, admin, eid, "bare", "1", schema=None, profile=None, context=None)
    bare = admin_ui.get("/datasets/bare").text
    assert "No schema was logged" in bare and "No profile was logged" in bare and "<td>—</td>" in bare


def test_other_groups_datasets_answer_like_missing_ones(
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    make_user: Callable[..., UserCreds],
) -> None:
    alice = make_user("alice", group="vision")
    bob = make_user("bob", group="nlp")
    alice_p = services.identity.authenticate_token(alice.token)
    bob_p = services.identity.authenticate_token(bob.token)
    mine = services.experiments.create_experiment(alice_p, name="alice-exp")
    theirs = services.experiments.create_experiment(bob_p, name="bob-exp")
    _, alice_version = log_dataset(services, alice_p, mine, "shared-name", "a1")
    _, bob_version = log_dataset(services, bob_p, theirs, "shared-name", "b1")
    log_dataset(services, bob_p, theirs, "bob-only", "b2")
    client = user_ui(alice)
    listed = client.get("/datasets").text
    assert 'data-dataset="shared-name"' in listed and "bob-only" not in listed
    row = listed[listed.index('data-dataset="shared-name"') :]
    assert row.split('<td class="num">')[1].startswith("1<")  # only alice's version is counted
    page = client.get("/datasets/shared-name").text
    assert f'data-dataset-version="{alice_version}"' in page and bob_version not in page
    for url in ("/datasets/bob-only", url_of("shared-name", bob_version), "/datasets/never-logged"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert "(or you do not have access to it)" in answer.text
    assert "bob-only" not in client.get("/ui/fragments/datasets?q=bob").text


def test_names_with_slashes_spaces_and_unicode_and_html_are_shown_escaped(
    admin_ui: TestClient, services: Services, admin: Principal, eid: str
) -> None:
    names = ["s3://bucket/train data.csv", "données d'été ü?#%", "/abs/path", XSS[0], XSS[1]]
    for name in names:
        log_dataset(
            services,
            admin,
            eid,
            name,
            "d",
            source=XSS[1],
            schema=json.dumps({"mlflow_colspec": [{"type": "string", "name": XSS[0]}]}),
        )
    listed = admin_ui.get("/datasets").text
    assert "<script>window.__xss" not in listed and '<img src=x onerror="window' not in listed
    for name in names:
        assert f'href="{url_of(name)}"' in listed, name
        page = admin_ui.get(url_of(name))
        assert page.status_code == 200, name
        assert f"<h1 data-dataset-name>{_escaped(name)}</h1>" in page.text
        assert "<script>window.__xss" not in page.text and '<img src=x onerror="window' not in page.text
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page.text  # the schema's column name
    assert admin_ui.get("/datasets/", follow_redirects=False).headers["location"] == "/datasets"


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_an_unknown_version_id_is_a_404_page(
    admin_ui: TestClient, services: Services, admin: Principal, eid: str
) -> None:
    log_dataset(services, admin, eid, "train", "x")
    answer = admin_ui.get("/datasets/train?version=nope")
    assert answer.status_code == 404
    assert "Dataset &#39;train&#39; has no version with id=nope" in answer.text
    assert unescape(answer.text).count("Main") >= 1


def test_a_run_with_many_model_versions_shows_the_first_ones_and_the_count_of_the_rest(
    admin_ui: TestClient,
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    admin: Principal,
    make_user: Callable[..., UserCreds],
) -> None:
    alice = make_user("alice", group="vision")
    make_user("bob", group="nlp")
    alice_p = services.identity.authenticate_token(alice.token)
    seeded = seed(services, alice_p, "iris", versions=7)
    # the platform admin registers the same run's model into nlp, a group alice is not in
    services.registry.create_registered_model(admin, name="nlp-copy", group="nlp")
    services.registry.create_model_version(
        admin, name="nlp-copy", source=f"runs:/{seeded.run_id}/model", run_id=seeded.run_id
    )
    row = admin_ui.get("/datasets/iris-train").text.split(f'data-run="{seeded.run_id}"')[1].split("</tr>")[0]
    assert [f"iris v{i}</a>" in row for i in range(1, 6)] == [True] * 5
    assert "iris v6" not in row and "nlp-copy" not in row  # 'iris' sorts first: 5 of iris shown
    assert "and 3 more" in row
    mine = user_ui(alice).get("/datasets/iris-train").text
    row = mine.split(f'data-run="{seeded.run_id}"')[1].split("</tr>")[0]
    assert "and 2 more" in row and "nlp-copy" not in row
