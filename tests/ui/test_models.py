"""The model registry's pages with the test client: the models list (and its results fragment), a
model's page and a version's page — what they show, to whom, escaped — and every change they make,
through the registry service and into the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from modelyard.domain.identity import Principal
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.helpers import csrf_of
from tests.ui.registry_helpers import audit_events, mlmodel_text, seed

XSS = ("<script>window.__xss=1</script>", '"><img src=x onerror="window.__xss=1">')


def page_of(name: str, version: int | None = None) -> str:
    url = f"/models/{quote(name, safe='')}"
    return url if version is None else f"{url}/versions/{version}"


def post(client: TestClient, url: str, page: str, **data: str) -> object:
    """A form POST from ``page`` (with its CSRF token), not following the redirect."""
    token = csrf_of(client.get(page))
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


@pytest.fixture
def two_groups(
    services: Services, make_user: Callable[..., UserCreds]
) -> tuple[UserCreds, Principal, UserCreds, Principal]:
    """alice (member of vision) and bob (member of nlp), with their principals."""
    alice = make_user("alice", group="vision")
    bob = make_user("bob", group="nlp")
    return (
        alice,
        services.identity.authenticate_token(alice.token),
        bob,
        services.identity.authenticate_token(bob.token),
    )


# ---- the list ---------------------------------------------------------------------------------------
def test_an_empty_registry_says_how_to_register_a_model(admin_ui: TestClient) -> None:
    page = admin_ui.get("/models")
    assert page.status_code == 200
    assert "data-empty-state" in page.text
    assert 'registered_model_name="my-model"' in unescape(page.text)
    assert "mlflow.register_model(" in page.text
    assert 'mlflow.set_tracking_uri("http://testserver")' in unescape(page.text)


def test_the_list_shows_latest_versions_aliases_tags_and_last_modified(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "iris", versions=3)
    services.registry.transition_stage(admin, "iris", 2, "Production")
    services.registry.set_alias(admin, "iris", "champion", 2)
    services.registry.set_registered_model_tag(admin, "iris", "team", "vision")
    page = admin_ui.get("/models")
    row = _row(page.text, 'data-model="iris"')
    assert '<a href="/models/iris">iris</a>' in row
    # the newest version of each stage: version 3 (None) and version 2 (Production)
    assert (
        '<a href="/models/iris/versions/3">Version 3</a> <span class="badge stage stage-none">None</span>'
        in row
    )
    assert (
        '<a href="/models/iris/versions/2">Version 2</a> <span class="badge stage stage-production">Production</span>'
        in row
    )
    assert "Version 1<" not in row
    assert '<a href="/models/iris/versions/2" class="badge alias">@champion</a>' in row
    assert '<span class="tag-key">team</span>: vision' in row
    assert "<time datetime=" in row


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def test_search_by_name_contains_ignores_case_and_the_fragment_pushes_the_page_url(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    for name in ("Iris-Prod", "iris-dev", "churn"):
        services.registry.create_registered_model(admin, name=name)
    page = admin_ui.get("/models?q=IRIS")
    assert 'data-model="Iris-Prod"' in page.text and 'data-model="iris-dev"' in page.text
    assert 'data-model="churn"' not in page.text
    fragment = admin_ui.get("/ui/fragments/models?q=chu&sort=-name")
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="models-results"')
    assert "<html" not in fragment.text
    assert 'data-model="churn"' in fragment.text and "iris" not in fragment.text.lower()
    assert fragment.headers["hx-push-url"] == "/models?q=chu&sort=-name"
    assert "1 model shown" in fragment.headers["hx-trigger"]
    none = admin_ui.get("/models?q=zzz")
    assert "data-no-match" in none.text and "data-empty-state" not in none.text


def test_an_mlflow_filter_narrows_the_list_and_a_bad_one_is_said_next_to_the_box(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    services.registry.create_registered_model(admin, name="a", tags={"team": "vision"})
    services.registry.create_registered_model(admin, name="b", tags={"team": "nlp"})
    page = admin_ui.get("/models", params={"filter": "tags.team = 'vision'"})
    assert 'data-model="a"' in page.text and 'data-model="b"' not in page.text
    bad = admin_ui.get("/models", params={"filter": "tags.team == 'x' AND"})
    assert bad.status_code == 400
    assert "data-filter-error" in bad.text
    assert 'aria-invalid="true"' in bad.text
    assert 'value="tags.team == &#39;x&#39; AND"' in bad.text  # what was typed stays in the box
    fragment = admin_ui.get("/ui/fragments/models", params={"filter": "nonsense ~ 3"})
    assert fragment.status_code == 400 and "data-filter-error" in fragment.text


def test_sorting_and_paging(admin_ui: TestClient, services: Services, admin: Principal) -> None:
    for i in range(55):
        services.registry.create_registered_model(admin, name=f"m{i:02d}")
    first = admin_ui.get("/models")
    assert first.text.index('data-model="m00"') < first.text.index('data-model="m49"')
    assert 'data-model="m50"' not in first.text
    assert 'aria-sort="ascending"' in first.text
    nxt = unescape(first.text.split("data-next-page")[0].rsplit('href="', 1)[1].split('"')[0])
    second = admin_ui.get(nxt)
    assert 'data-model="m54"' in second.text and 'data-model="m00"' not in second.text
    desc = admin_ui.get("/models?resort=-name")
    assert desc.text.index('data-model="m54"') < desc.text.index('data-model="m10"')
    assert 'aria-sort="descending"' in desc.text
    services.registry.update_registered_model(admin, "m03", "changed last")
    newest = admin_ui.get("/models?sort=-updated").text
    assert newest.index('data-model="m03"') < newest.index('data-model="m54"')
    assert 'data-model="m03"' not in admin_ui.get("/models?sort=updated").text  # on the last page


@pytest.mark.parametrize(
    ("query", "said"),
    [("sort=size", "Invalid sort &#39;size&#39;"), ("page=not-a-token", "Invalid page token")],
)
def test_a_bad_list_parameter_is_a_400_page_naming_it(admin_ui: TestClient, query: str, said: str) -> None:
    page = admin_ui.get(f"/models?{query}")
    assert page.status_code == 400
    assert said in page.text
    assert 'aria-label="Main"' in page.text  # the error page keeps the navigation


def test_each_user_sees_only_their_groups_models(
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    two_groups: tuple[UserCreds, Principal, UserCreds, Principal],
) -> None:
    alice, alice_p, _, bob_p = two_groups
    seed(services, alice_p, "vision-model")
    seed(services, bob_p, "nlp-model")
    as_alice = user_ui(alice)
    listed = as_alice.get("/models").text
    assert 'data-model="vision-model"' in listed and "nlp-model" not in listed
    assert "nlp-model" not in as_alice.get("/ui/fragments/models?q=model").text
    for url in (page_of("nlp-model"), page_of("nlp-model", 1), page_of("no-such-model")):
        answer = as_alice.get(url)
        assert answer.status_code == 404, url
        assert "Registered Model with name=" in answer.text
    # alice cannot change bob's model either: the same 404
    refused = post(as_alice, page_of("nlp-model") + "/tags", "/models", key="k", value="v")
    assert refused.status_code == 404  # type: ignore[attr-defined]
    assert services.registry.get_registered_model(bob_p, "nlp-model").tags == {}


def test_names_and_values_are_escaped_everywhere(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    # a model name cannot hold '/': the image, and a script tag left open
    name = 'm"><img src=x onerror="window.__xss=1"><script>window.__xss=1<'
    seed(services, admin, name)
    services.registry.set_registered_model_tag(admin, name, "k1", XSS[0])
    services.registry.set_registered_model_tag(admin, name, "k2", XSS[1])
    services.registry.update_registered_model(admin, name, XSS[0])
    services.registry.set_model_version_tag(admin, name, 1, "k", XSS[1])
    services.registry.update_model_version(admin, name, 1, XSS[0])
    for url in ("/models", page_of(name), page_of(name, 1), "/ui/fragments/models"):
        text = admin_ui.get(url).text
        assert "<script>window.__xss" not in text, url
        assert '<img src=x onerror="window' not in text, url
        assert "&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in text, url
    for url in (page_of(name), page_of(name, 1)):
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in admin_ui.get(url).text, url


# ---- a model's page ---------------------------------------------------------------------------------
def test_the_model_page_lists_versions_with_stage_aliases_tags_run_and_creator(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seeded = seed(services, admin, "iris", versions=2)
    services.registry.set_alias(admin, "iris", "champion", 1)
    services.registry.transition_stage(admin, "iris", 1, "Staging")
    services.registry.set_model_version_tag(admin, "iris", 2, "validated", "yes")
    services.registry.update_registered_model(admin, "iris", "Classifies irises.")
    page = admin_ui.get("/models/iris")
    assert page.status_code == 200
    assert "<h1 data-model-name>iris</h1>" in page.text
    assert "Classifies irises." in page.text
    v1 = _row(page.text, 'data-version="1"')
    assert '<a href="/models/iris/versions/1">Version 1</a>' in v1
    assert "stage-staging" in v1 and "@champion" in v1
    assert f'<a href="/runs/{seeded.run_id}"><code>{seeded.run_id[:12]}</code></a>' in v1
    assert "<td>admin</td>" in v1 and "READY" in v1
    v2 = _row(page.text, 'data-version="2"')
    assert '<span class="tag-key">validated</span>: yes' in v2
    assert page.text.index('data-version="2"') < page.text.index('data-version="1"')  # newest first
    older = admin_ui.get("/models/iris?below=2")
    assert 'data-version="1"' in older.text and 'data-version="2"' not in older.text


def test_versions_are_paged_newest_first(services: Services, admin: Principal) -> None:
    seed(services, admin, "many", versions=5)
    first, below = services.registry.list_model_versions(admin, "many", max_results=2)
    assert [v.version for v in first] == [5, 4] and below == 4
    second, below = services.registry.list_model_versions(admin, "many", below=below, max_results=2)
    assert [v.version for v in second] == [3, 2] and below == 2
    last, below = services.registry.list_model_versions(admin, "many", below=below, max_results=2)
    assert [v.version for v in last] == [1] and below is None


def test_description_and_tags_are_changed_and_audited_with_the_user(
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    admin: Principal,
    two_groups: tuple[UserCreds, Principal, UserCreds, Principal],
) -> None:
    alice, alice_p, _, _ = two_groups
    seed(services, alice_p, "iris")
    client = user_ui(alice)
    answer = post(client, "/models/iris/description", "/models/iris", description="Line one\nline two")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == "/models/iris?saved=description"  # type: ignore[attr-defined]
    shown = client.get("/models/iris?saved=description").text
    assert "Description saved." in shown and "Line one\nline two" in shown
    post(client, "/models/iris/tags", "/models/iris", key=" team ", value="vision")
    post(client, "/models/iris/tags", "/models/iris", key="owner", value="alice")
    post(client, "/models/iris/tags/delete", "/models/iris", key="owner")
    assert services.registry.get_registered_model(alice_p, "iris").tags == {"team": "vision"}
    events = [(e.action, e.actor, e.changes) for e in audit_events(services, admin, "registered_model")]
    assert (
        "update",
        "alice",
        {"before": {"description": ""}, "after": {"description": "Line one\nline two"}},
    ) in events
    assert ("set_tag", "alice", {"before": {"tags.team": None}, "after": {"tags.team": "vision"}}) in events
    assert (
        "delete_tag",
        "alice",
        {"before": {"tags.owner": "alice"}, "after": {"tags.owner": None}},
    ) in events


def test_a_refused_tag_is_said_next_to_the_field_with_what_was_typed(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "iris")
    answer = post(admin_ui, "/models/iris/tags", "/models/iris", key="../up", value="v<b>")
    assert answer.status_code == 400  # type: ignore[attr-defined]
    text = answer.text  # type: ignore[attr-defined]
    assert 'data-field-error="tag"' in text
    assert 'id="tag-key" name="key" required value="../up" aria-invalid="true"' in text
    assert 'value="v&lt;b&gt;"' in text


def test_rename_goes_to_the_new_name_and_a_taken_name_is_refused(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "iris")
    services.registry.create_registered_model(admin, name="taken")
    taken = post(admin_ui, "/models/iris/rename", "/models/iris", new_name="taken")
    assert taken.status_code == 409  # type: ignore[attr-defined]
    assert "already exists" in taken.text and 'value="taken" aria-invalid="true"' in taken.text  # type: ignore[attr-defined]
    bad = post(admin_ui, "/models/iris/rename", "/models/iris", new_name="a/b")
    assert bad.status_code == 400 and "cannot contain" in bad.text  # type: ignore[attr-defined]
    done = post(admin_ui, "/models/iris/rename", "/models/iris", new_name="iris classifier")
    assert done.headers["location"] == "/models/iris%20classifier?saved=renamed"  # type: ignore[attr-defined]
    assert admin_ui.get("/models/iris%20classifier").status_code == 200
    assert admin_ui.get("/models/iris").status_code == 404


def test_delete_needs_the_name_typed(admin_ui: TestClient, services: Services, admin: Principal) -> None:
    seed(services, admin, "iris")
    wrong = post(admin_ui, "/models/iris/delete", "/models/iris", confirm="iri")
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    assert "type its name exactly" in wrong.text  # type: ignore[attr-defined]
    assert services.registry.get_registered_model(admin, "iris").name == "iris"
    done = post(admin_ui, "/models/iris/delete", "/models/iris", confirm="iris")
    assert done.headers["location"] == "/models?saved=deleted"  # type: ignore[attr-defined]
    assert "Model deleted." in admin_ui.get("/models?saved=deleted").text
    assert admin_ui.get("/models/iris").status_code == 404


def test_a_change_without_the_csrf_token_is_refused(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "iris")
    answer = admin_ui.post("/models/iris/delete", data={"confirm": "iris"})
    assert answer.status_code == 403
    assert services.registry.get_registered_model(admin, "iris").name == "iris"


def test_a_viewer_can_read_but_not_change(
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    make_user: Callable[..., UserCreds],
) -> None:
    owner = make_user("olga", group="vision")
    viewer = make_user("victor", group="vision", role="viewer")
    seed(services, services.identity.authenticate_token(owner.token), "iris")
    client = user_ui(viewer)
    assert client.get("/models/iris/versions/1").status_code == 200
    refused = post(client, "/models/iris/versions/1/aliases", "/models/iris/versions/1", alias="champion")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "Permission denied" in refused.text or "viewer" in refused.text  # type: ignore[attr-defined]


# ---- a version's page -------------------------------------------------------------------------------
def test_the_version_page_shows_signature_example_run_lineage_and_how_to_download(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seeded = seed(services, admin, "iris")
    page = admin_ui.get("/models/iris/versions/1")
    assert page.status_code == 200
    text = page.text
    signature = text[text.index("data-signature") : text.index("Flavors:")]
    assert "<caption>Inputs</caption>" in signature and "<caption>Outputs</caption>" in signature
    assert "<tr><td>sepal length</td><td>double</td><td>—</td><td>yes</td></tr>" in signature
    assert "<tr><td>petal count</td><td>long</td><td>—</td><td>no</td></tr>" in signature
    assert "<tr><td>(position 0)</td><td>tensor of int64</td><td>(-1)</td><td>yes</td></tr>" in signature
    example = text[text.index('id="example-table"') :]
    assert '<th scope="col">sepal length</th>' in example and "<tr><td>5.1</td><td>3</td></tr>" in example
    run = text[text.index('id="run-title"') : text.index('id="lineage-title"')]
    assert f'<a href="/runs/{seeded.run_id}">train-iris</a>' in run
    assert f'<a href="/experiments/{seeded.experiment_id}">exp-iris</a>' in run
    assert '<th scope="row">accuracy</th><td class="num">0.93</td><td class="num">5</td>' in run
    assert '<th scope="row">solver</th><td>lbfgs</td>' in run
    assert "commit <code>abc123def</code> on <code>main</code>" in run
    lineage = text[text.index('id="lineage-datasets"') :]
    assert f'href="/datasets/iris-train?version={seeded.dataset_id}">iris-train</a>' in lineage
    assert "<td>training</td>" in lineage
    assert "mlflow.artifacts.download_artifacts(&#34;models:/iris/1&#34;)" in text
    assert "data-no-deployments" in text


def test_a_version_without_signature_or_with_broken_files_still_shows(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "plain", files={"MLmodel": mlmodel_text(signature=None, example=False).encode()})
    plain = admin_ui.get("/models/plain/versions/1")
    assert (
        plain.status_code == 200 and "data-no-signature" in plain.text and "example-title" not in plain.text
    )
    seed(services, admin, "broken", files={"MLmodel": b"flavors: [not, a, mapping]\n"})
    broken = admin_ui.get("/models/broken/versions/1")
    assert broken.status_code == 200
    assert "The MLmodel file is malformed: MLmodel field &#39;flavors&#39;" in broken.text
    seed(services, admin, "nofile", files={"other.txt": b"x"})
    missing = admin_ui.get("/models/nofile/versions/1")
    assert missing.status_code == 200 and "The MLmodel file could not be read" in missing.text


def test_alias_set_moves_and_removes_and_is_audited(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "iris", versions=2)
    answer = post(admin_ui, "/models/iris/versions/1/aliases", "/models/iris/versions/1", alias="champion")
    assert answer.headers["location"] == "/models/iris/versions/1?saved=alias"  # type: ignore[attr-defined]
    page = admin_ui.get("/models/iris/versions/1?saved=alias").text
    assert "Alias set." in page and 'data-alias="champion"' in page
    post(admin_ui, "/models/iris/versions/2/aliases", "/models/iris/versions/2", alias="champion")
    assert 'data-alias="champion"' not in admin_ui.get("/models/iris/versions/1").text
    assert 'data-alias="champion"' in admin_ui.get("/models/iris/versions/2").text
    post(admin_ui, "/models/iris/versions/2/aliases/delete", "/models/iris/versions/2", alias="champion")
    assert services.registry.get_registered_model(admin, "iris").aliases == {}
    actions = [(e.action, e.changes) for e in audit_events(services, admin, "registered_model")]
    assert ("set_alias", {"before": {"aliases.champion": 1}, "after": {"aliases.champion": 2}}) in actions
    assert (
        "delete_alias",
        {"before": {"aliases.champion": 2}, "after": {"aliases.champion": None}},
    ) in actions


@pytest.mark.parametrize("alias", ["bad alias!", "dot.alias", "a/b", "latest", "v3"])
def test_a_bad_alias_is_said_next_to_the_field(
    admin_ui: TestClient, services: Services, admin: Principal, alias: str
) -> None:
    seed(services, admin, "iris")
    answer = post(admin_ui, "/models/iris/versions/1/aliases", "/models/iris/versions/1", alias=alias)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    text = answer.text  # type: ignore[attr-defined]
    assert 'data-field-error="alias"' in text
    assert "alias" in text[text.index('data-field-error="alias"') :].split("</p>")[0].lower()
    assert services.registry.get_registered_model(admin, "iris").aliases == {}


def test_a_stage_transition_can_archive_the_others_and_a_bad_stage_is_refused(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "iris", versions=2)
    services.registry.transition_stage(admin, "iris", 1, "Production")
    url, page = "/models/iris/versions/2/stage", "/models/iris/versions/2"
    done = post(admin_ui, url, page, stage="Production", archive_existing="on")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert services.registry.get_model_version(admin, "iris", 2).current_stage == "Production"
    assert services.registry.get_model_version(admin, "iris", 1).current_stage == "Archived"
    assert "stage-production" in admin_ui.get(page).text.split("data-stage>")[1].split("</dd>")[0]
    bad = post(admin_ui, url, page, stage="Retired")
    assert bad.status_code == 400  # type: ignore[attr-defined]
    assert "Invalid Model Version stage: Retired" in bad.text  # type: ignore[attr-defined]
    archive_none = post(admin_ui, url, page, stage="None", archive_existing="on")
    assert archive_none.status_code == 400  # type: ignore[attr-defined]
    assert "not an Active stage" in archive_none.text  # type: ignore[attr-defined]
    events = [e for e in audit_events(services, admin, "model_version") if e.action == "transition_stage"]
    assert [(e.resource_name, e.actor, e.changes["after"]["current_stage"]) for e in events[-2:]] == [
        ("iris/1", "admin", "Archived"),
        ("iris/2", "admin", "Production"),
    ]


def test_version_tags_and_description_are_changed(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    seed(services, admin, "iris")
    page = "/models/iris/versions/1"
    post(admin_ui, page + "/tags", page, key="validated", value="yes")
    post(admin_ui, page + "/description", page, description="The first one.")
    version = services.registry.get_model_version(admin, "iris", 1)
    assert version.tags == {"validated": "yes"} and version.description == "The first one."
    post(admin_ui, page + "/tags/delete", page, key="validated")
    assert services.registry.get_model_version(admin, "iris", 1).tags == {}


@pytest.mark.parametrize(
    ("url", "status", "said"),
    [
        ("/models/iris/versions/7", 404, "Model Version (name=iris, version=7) not found"),
        ("/models/iris/versions/abc", 400, "must be an integer"),
        ("/models/iris/versions/0", 400, "versions are numbered from 1"),
        ("/models/iris/versions/99999999999999", 400, "versions are numbered from 1"),
        ("/models/a%2Fb", 404, "Not found"),
        ("/models/a%2Fb/versions/1", 404, "Not found"),
        ("/models/no%20such%20%C3%BC", 404, "Registered Model with name=no such ü not found"),
    ],
)
def test_bad_or_missing_versions_and_names_are_error_pages(
    admin_ui: TestClient, services: Services, admin: Principal, url: str, status: int, said: str
) -> None:
    seed(services, admin, "iris")
    answer = admin_ui.get(url)
    assert answer.status_code == status, answer.text
    assert said in unescape(answer.text)
    assert 'aria-label="Main"' in answer.text


def test_names_with_spaces_and_unicode_work_in_urls(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    name = "modèle de prévision ü?#%"
    seed(services, admin, name)
    listed = admin_ui.get("/models").text
    assert f'href="{page_of(name)}"' in listed
    assert admin_ui.get(page_of(name)).status_code == 200
    assert admin_ui.get(page_of(name, 1)).status_code == 200
    post(admin_ui, page_of(name, 1) + "/aliases", page_of(name, 1), alias="champion")
    assert services.registry.get_registered_model(admin, name).aliases == {"champion": 1}


def test_the_deployments_serving_a_version_are_listed_for_those_who_may_see_them(
    admin_ui: TestClient,
    user_ui: Callable[[UserCreds], TestClient],
    services: Services,
    admin: Principal,
    two_groups: tuple[UserCreds, Principal, UserCreds, Principal],
) -> None:
    alice, alice_p, _, _ = two_groups
    seed(services, alice_p, "iris", versions=2)
    services.registry.set_alias(alice_p, "iris", "champion", 2)
    spec = {"predictors": [{"name": "main", "model": "models:/iris@champion"}]}
    services.deployments.create(alice_p, "iris-stg", spec)
    # the platform admin deploys version 2 into nlp, a group alice is not in
    services.deployments.create(
        admin, "nlp-copy", {"predictors": [{"name": "p", "model": "models:/iris/2"}]}, group="nlp"
    )
    as_alice = user_ui(alice).get("/models/iris/versions/2").text
    assert 'data-deployment="iris-stg"' in as_alice and "nlp-copy" not in as_alice
    row = _row(as_alice, 'data-deployment="iris-stg"')
    assert '<a href="/deployments">iris-stg</a>' in row and "<td>main</td>" in row
    assert "<code>/deployment/iris-stg</code>" in row
    as_admin = admin_ui.get("/models/iris/versions/2").text
    assert 'data-deployment="iris-stg"' in as_admin and 'data-deployment="nlp-copy"' in as_admin
    assert "data-no-deployments" in admin_ui.get("/models/iris/versions/1").text
