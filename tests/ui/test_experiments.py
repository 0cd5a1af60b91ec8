"""The experiments pages with the test client: what the list shows, its search, sort, paging and
deleted toggle; creating, renaming, deleting and restoring (audited, with the user); two groups that
cannot see or change each other's experiments; bad input shown inline; names escaped."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from modelyard.api.ui import experiments as experiments_page
from modelyard.domain.identity import Principal
from modelyard.domain.tracking import LifecycleStage
from modelyard.services import Services
from tests.conftest import UserCreds
from tests.ui.helpers import csrf_of, post_form

XSS_NAMES = ["<script>window.__xss=1</script>", '"><img src=x onerror="window.__xss=1">']
Users = Callable[[UserCreds], TestClient]


def names_listed(page: str) -> list[str]:
    return re.findall(r'<a href="/experiments/\d+" data-experiment-link>([^<]*)</a>', page)


@pytest.fixture
def two_groups(
    make_user: Callable[..., UserCreds], user_ui: Users
) -> tuple[TestClient, TestClient, UserCreds, UserCreds]:
    """ann in group a, ben in group b, each logged in."""
    ann, ben = make_user("ann", group="a"), make_user("ben", group="b")
    return user_ui(ann), user_ui(ben), ann, ben


def principal(services: Services, creds: UserCreds) -> Principal:
    return services.identity.authenticate_token(creds.token)


def test_the_list_shows_project_group_runs_and_last_activity(
    admin_ui: TestClient, services: Services, admin: Principal, make_user: Callable[..., UserCreds]
) -> None:
    make_user("someone", group="vision")
    eid = services.experiments.create_experiment(admin, name="cats", group="vision")
    for start in (1_700_000_000_000, 1_800_000_000_000):
        services.tracking.create_run(admin, experiment_id=eid, start_time=start)
    deleted_run = services.tracking.create_run(admin, experiment_id=eid, start_time=1_900_000_000_000)
    services.tracking.set_run_lifecycle(admin, deleted_run.run_id, LifecycleStage.DELETED)
    page = admin_ui.get("/experiments").text
    row = page.split(f'data-experiment-id="{eid}"')[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert ">cats</a>" in cells[0]
    assert cells[1].strip() == "vision" and cells[2].strip() == "vision"  # the group's default project
    assert cells[3].strip() == "2", "active runs only"
    assert 'datetime="2027-01-15T08:00:00Z"' in cells[4], "the latest active run's start"
    assert "<time datetime=" in cells[5]


def test_search_sort_and_paging_are_in_the_url(
    admin_ui: TestClient, services: Services, admin: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("beta-1", "alpha-1", "Beta_2", "gamma"):
        services.experiments.create_experiment(admin, name=name)
    page = admin_ui.get("/experiments?q=beta").text
    assert names_listed(page) == ["Beta_2", "beta-1"]  # any case, by name (uppercase first)
    assert 'value="beta"' in page
    assert names_listed(admin_ui.get("/experiments?q=a_2").text) == ["Beta_2"], "'_' is no wildcard"
    assert names_listed(admin_ui.get("/experiments?q=%25").text) == [], "nor is '%'"
    newest_first = names_listed(admin_ui.get("/experiments?sort=created&dir=desc").text)
    assert newest_first[:4] == ["gamma", "Beta_2", "alpha-1", "beta-1"]
    sorted_page = admin_ui.get("/experiments?sort=created&dir=desc").text
    assert (
        '<th scope="col" aria-sort="descending"><a href="/experiments?sort=created">Created</a>'
        in sorted_page
    )
    monkeypatch.setattr(experiments_page, "PAGE_SIZE", 2)
    first = admin_ui.get("/experiments").text
    assert names_listed(first) == ["Beta_2", "Default"]
    next_url = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first)
    assert next_url is not None
    second = admin_ui.get(next_url.group(1).replace("&amp;", "&")).text
    assert names_listed(second) == ["alpha-1", "beta-1"]


def test_a_bad_sort_or_page_token_is_said_on_the_page(admin_ui: TestClient) -> None:
    sort = admin_ui.get("/experiments?sort=nonsense")
    assert sort.status_code == 200
    assert "Unknown sort &#39;nonsense&#39;: sort by name or created." in sort.text
    page = admin_ui.get("/experiments?page=not-a-token")
    assert page.status_code == 200 and "data-list-error" in page.text


def test_create_from_the_form_is_audited_with_the_user(
    services: Services, admin: Principal, make_user: Callable[..., UserCreds], user_ui: Users
) -> None:
    carl = make_user("carl", group="team")
    client = user_ui(carl)
    response = post_form(
        client, "/experiments", {"name": "first-try", "group": "team", "back": "/experiments?q=first"}
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/experiments?q=first&done=created&id=")
    page = client.get(location).text
    assert "Experiment &#39;first-try&#39; created." in page
    assert names_listed(page) == ["first-try"]
    events, _ = services.audit.query(admin, resource_type="experiment", action="create", user="carl")
    assert [e.resource_name for e in events] == ["first-try"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "The name must be a non-empty string."),
        ("   ", "The name must be a non-empty string."),
        ("x" * 501, "it has 501 characters, the limit is 500."),
    ],
)
def test_bad_input_on_create_is_shown_inline(admin_ui: TestClient, name: str, message: str) -> None:
    response = post_form(admin_ui, "/experiments", {"name": name, "group": "default"})
    assert response.status_code == 400
    form = response.text.split('id="new-experiment"')[1].split("</form>")[0]
    assert message in form and 'aria-invalid="true"' in form
    assert '<nav class="main-nav"' in response.text


def test_a_taken_name_keeps_what_was_typed(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    services.experiments.create_experiment(admin, name="taken")
    response = post_form(admin_ui, "/experiments", {"name": "taken", "group": "default"})
    assert response.status_code == 400
    assert "Experiment(name=taken) already exists." in response.text
    assert 'name="name" value="taken"' in response.text


def test_creating_in_a_group_one_is_not_in_is_refused_inline(
    two_groups: tuple[TestClient, TestClient, UserCreds, UserCreds],
) -> None:
    ann_ui, _, _, _ = two_groups
    response = post_form(ann_ui, "/experiments", {"name": "sneaky", "group": "b"})
    assert response.status_code == 400
    assert "No group &#39;b&#39; exists (or you are not a member of it)." in response.text
    assert '<option value="b"' not in response.text, "only the user's own groups are offered"


def test_rename_delete_and_restore_are_audited(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    eid = services.experiments.create_experiment(admin, name="old-name")
    renamed = post_form(
        admin_ui, f"/experiments/{eid}/rename", {"name": "new-name", "back": f"/experiments/{eid}"}
    )
    assert renamed.status_code == 303
    assert renamed.headers["location"] == f"/experiments/{eid}?done=renamed&id={eid}"
    assert "Experiment renamed to &#39;new-name&#39;." in admin_ui.get(renamed.headers["location"]).text
    deleted = post_form(admin_ui, f"/experiments/{eid}/delete", {"back": "/experiments"})
    assert deleted.status_code == 303
    assert "new-name" not in names_listed(admin_ui.get("/experiments").text)
    shown = admin_ui.get("/experiments?deleted=1").text
    assert "new-name" in names_listed(shown)
    assert f'action="/experiments/{eid}/restore"' in shown
    restored = post_form(admin_ui, f"/experiments/{eid}/restore", {"back": "/experiments?deleted=1"})
    assert restored.headers["location"] == f"/experiments?deleted=1&done=restored&id={eid}"
    assert "new-name" in names_listed(admin_ui.get("/experiments").text)
    events, _ = services.audit.query(admin, resource_type="experiment", resource_id=eid)
    assert [(e.action, e.actor) for e in sorted(events, key=lambda e: e.seq)] == [
        ("create", "admin"),
        ("rename", "admin"),
        ("delete", "admin"),
        ("restore", "admin"),
    ]


def test_bad_input_on_rename_is_shown_inline(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    eid = services.experiments.create_experiment(admin, name="keep")
    services.experiments.create_experiment(admin, name="other")
    on_page = post_form(admin_ui, f"/experiments/{eid}/rename", {"name": "other"})
    assert on_page.status_code == 400
    form = on_page.text.split('id="rename"')[1].split("</form>")[0]
    assert "Experiment(name=other) already exists." in form and 'value="other"' in form
    csrf = csrf_of(admin_ui.get("/experiments"))
    inline = admin_ui.post(
        f"/experiments/{eid}/rename",
        data={"name": " ", "csrf_token": csrf, "back": "/experiments"},
        headers={"HX-Request": "true"},
    )
    assert inline.status_code == 400
    assert inline.text.lstrip().startswith("<form"), "htmx gets the inline form back, not a page"
    assert "The name must be a non-empty string." in inline.text
    assert services.experiments.get_experiment(admin, eid).name == "keep"


def test_the_inline_rename_form(admin_ui: TestClient, services: Services, admin: Principal) -> None:
    eid = services.experiments.create_experiment(admin, name="inline")
    form = admin_ui.get(f"/ui/fragments/experiments/{eid}/rename?back=/experiments%3Fq%3Din")
    assert form.status_code == 200
    assert form.text.lstrip().startswith("<form") and "<html" not in form.text
    assert 'value="/experiments?q=in"' in form.text
    csrf = csrf_of(admin_ui.get("/experiments"))
    done = admin_ui.post(
        f"/experiments/{eid}/rename",
        data={"name": "inline-2", "csrf_token": csrf, "back": "/experiments?q=in"},
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 204
    assert done.headers["hx-redirect"] == f"/experiments?q=in&done=renamed&id={eid}"


def test_two_groups_see_and_change_only_their_own(
    services: Services, two_groups: tuple[TestClient, TestClient, UserCreds, UserCreds]
) -> None:
    ann_ui, ben_ui, ann, ben = two_groups
    a_id = services.experiments.create_experiment(principal(services, ann), name="a-secret", group="a")
    b_id = services.experiments.create_experiment(principal(services, ben), name="b-secret", group="b")
    assert names_listed(ann_ui.get("/experiments").text) == ["a-secret"]
    assert names_listed(ben_ui.get("/experiments").text) == ["b-secret"]
    assert names_listed(ann_ui.get("/experiments?q=secret&deleted=1").text) == ["a-secret"]
    hidden = ann_ui.get(f"/experiments/{b_id}")
    missing = ann_ui.get("/experiments/999999")
    assert hidden.status_code == missing.status_code == 404
    said = [
        re.search(r"data-error-message>([^<]*)<", r.text).group(1)  # type: ignore[union-attr]
        for r in (hidden, missing)
    ]
    assert said[0].replace(b_id, "N") == said[1].replace("999999", "N"), "hidden looks missing"
    assert "b-secret" not in hidden.text
    for action, data in (("rename", {"name": "taken-over"}), ("delete", {}), ("restore", {})):
        refused = post_form(ann_ui, f"/experiments/{b_id}/{action}", data)
        assert refused.status_code == 404, action
    assert ann_ui.get(f"/ui/fragments/experiments/{b_id}/rename").status_code == 404
    ben = principal(services, ben)
    assert services.experiments.get_experiment(ben, b_id).name == "b-secret"
    assert services.experiments.get_experiment(ben, b_id).lifecycle_stage == "active"
    assert a_id != b_id


def test_a_viewer_sees_no_change_buttons_and_is_refused(
    services: Services, admin: Principal, make_user: Callable[..., UserCreds], user_ui: Users
) -> None:
    vic = make_user("vic", group="watchers", role="viewer")
    eid = services.experiments.create_experiment(admin, name="watched", group="watchers")
    client = user_ui(vic)
    page = client.get("/experiments").text
    assert names_listed(page) == ["watched"]
    assert "/delete" not in page and 'id="new-experiment"' not in page
    assert 'id="rename"' not in client.get(f"/experiments/{eid}").text
    refused = post_form(client, f"/experiments/{eid}/delete", {})
    assert refused.status_code == 403
    assert "needs the &#39;member&#39; role" in refused.text


def test_a_post_without_csrf_changes_nothing(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    eid = services.experiments.create_experiment(admin, name="safe")
    for url, data in (("/experiments", {"name": "forged"}), (f"/experiments/{eid}/delete", {})):
        response = admin_ui.post(url, data=data, follow_redirects=False)
        assert response.status_code == 403
        assert "security token (CSRF)" in response.text
    found, _ = services.experiments.search(admin)
    assert "forged" not in [e.name for e in found]
    assert services.experiments.get_experiment(admin, eid).lifecycle_stage == "active"


def test_html_in_names_is_escaped_everywhere(
    admin_ui: TestClient, services: Services, admin: Principal
) -> None:
    for name in XSS_NAMES:
        eid = services.experiments.create_experiment(admin, name=name)
        pages = [
            admin_ui.get("/experiments").text,
            admin_ui.get(f"/experiments/{eid}").text,
            admin_ui.get(f"/ui/fragments/experiments/{eid}/rename").text,
            admin_ui.get(f"/experiments?done=created&id={eid}").text,
            admin_ui.get("/experiments?q=" + name.replace("#", "%23")).text,
        ]
        for text in pages:
            assert "<script>window" not in text and "<img src=x" not in text
            assert 'onerror="window' not in text
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in pages[0] or "&#34;&gt;&lt;img" in pages[0]


def test_the_empty_list_shows_how_to_log_a_first_run(
    make_user: Callable[..., UserCreds], user_ui: Users
) -> None:
    client = user_ui(make_user("newbie", group="fresh"))
    page = client.get("/experiments").text
    assert "No experiments yet" in page
    snippet = page.split("<pre data-snippet><code>")[1].split("</code>")[0]
    lines = snippet.strip().splitlines()
    assert lines[0] == "export MLFLOW_TRACKING_URI=http://testserver"
    assert lines[1].startswith("export MLFLOW_TRACKING_TOKEN=")
    assert lines[2].startswith('python -c "import mlflow;')
    assert len(lines) == 3
    none_match = client.get("/experiments?q=zzz").text
    assert "No experiment has a name containing “zzz”." in none_match


def test_the_root_page_is_the_list_with_the_hash_route_script(admin_ui: TestClient) -> None:
    page = admin_ui.get("/").text
    assert "/static/ui/js/hash-routes.js?v=" in page
    assert names_listed(page) == ["Default"]
    assert "hash-routes.js" not in admin_ui.get("/experiments").text
