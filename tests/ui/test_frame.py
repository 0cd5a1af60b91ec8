"""The frame every UI page shares: login and logout, sessions, the CSRF check, security headers,
error pages, static files, and the line between UI paths (session cookie) and API paths
(Authorization header)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from modelyard.api.app import create_app
from modelyard.api.ui.paths import safe_next
from modelyard.domain.identity import Principal
from modelyard.services import Services, build_services
from modelyard.settings import Settings
from modelyard.storage.orm import UiSessionRow
from tests.conftest import UserCreds
from tests.ui.helpers import csrf_of, login

PAGES = ["/", "/experiments", "/models", "/datasets", "/deployments", "/account"]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_sends_to_the_login_page(ui: TestClient, path: str) -> None:
    response = ui.get(path + "?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}%3Fx%3D1"


def test_an_htmx_request_without_a_session_is_redirected_by_htmx(ui: TestClient) -> None:
    response = ui.get(
        "/experiments",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/experiments?q=a"},
        follow_redirects=False,
    )
    assert response.status_code == 204
    assert response.headers["hx-redirect"] == "/login?next=/experiments%3Fq%3Da"


def test_login_with_a_password_shows_the_user_and_groups(
    ui: TestClient, admin_password: str, make_user: Callable[..., UserCreds]
) -> None:
    alice = make_user("alice", group="vision", role="member")
    response = login(ui, alice.username, alice.password)
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "modelyard_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it (test below)
    page = ui.get("/experiments")
    assert page.status_code == 200
    assert "<strong data-username>alice</strong>" in page.text
    assert 'title="role: member">vision<' in page.text
    assert "platform admin" not in page.text


def test_login_with_a_token(ui: TestClient, make_user: Callable[..., UserCreds]) -> None:
    bob = make_user("bob", group="nlp")
    login(ui, "", bob.token, token=True)
    assert "<strong data-username>bob</strong>" in ui.get("/experiments").text


def test_the_session_cookie_is_secure_over_https(app: object, admin_password: str) -> None:
    with TestClient(app, base_url="https://testserver") as client:  # type: ignore[arg-type]
        response = login(client, "admin", admin_password)
        assert "Secure" in response.headers["set-cookie"]


def test_a_refused_login_says_the_same_for_a_missing_user_and_is_audited(
    ui: TestClient, services: Services, admin: Principal, make_user: Callable[..., UserCreds]
) -> None:
    make_user("carol", group="g1")
    answers = []
    for username, password in (("carol", "wrong-password"), ("nobody-like-this", "wrong-password")):
        csrf = csrf_of(ui.get("/login"))
        answer = ui.post(
            "/login", data={"username": username, "password": password, "csrf_token": csrf, "next": "/"}
        )
        assert answer.status_code == 401
        assert "Invalid username or password." in answer.text
        assert "modelyard_session" not in answer.headers.get("set-cookie", "")
        answers.append(answer.text.replace(username, "<name>"))
    assert answers[0] == answers[1]
    services.audit.flush(everything=True)
    events, _ = services.audit.query(admin, resource_type="authentication")
    assert events, "refused logins are counted in the audit trail"
    first = events[-1] if events[0].changes.get("count") != 1 else events[0]
    assert first.action == "POST /login"
    assert first.outcome == "unauthenticated"
    counted = sum(int(e.changes["count"]) for e in events)
    assert counted == 2


def test_an_empty_login_form_says_what_is_missing(ui: TestClient) -> None:
    csrf = csrf_of(ui.get("/login"))
    answer = ui.post("/login", data={"username": "", "password": "", "csrf_token": csrf})
    assert answer.status_code == 400
    assert "Enter your username and password, or paste an API token." in answer.text


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "http:/evil",
        "javascript:alert(1)",
        "/%0d%0a",
    ],
)
def test_next_never_leaves_the_site(ui: TestClient, admin_password: str, target: str) -> None:
    csrf = csrf_of(ui.get("/login"))
    data = {"username": "admin", "password": admin_password, "csrf_token": csrf, "next": target}
    response = ui.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/experiments/2?view=table#top") == "/experiments/2?view=table#top"
    assert safe_next("/#/experiments/2/runs/abc") == "/#/experiments/2/runs/abc"
    assert safe_next("/a\nb") == "/"
    assert safe_next("experiments") == "/"


def test_a_post_without_the_csrf_token_is_refused(admin_ui: TestClient) -> None:
    response = admin_ui.post("/logout", follow_redirects=False)
    assert response.status_code == 403
    assert "without a valid security token (CSRF)" in response.text
    assert '<nav class="main-nav"' in response.text  # the error page keeps the navigation
    wrong = admin_ui.post("/logout", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert wrong.status_code == 403
    header = admin_ui.post("/logout", headers={"X-CSRF-Token": "nope"}, follow_redirects=False)
    assert header.status_code == 403
    assert admin_ui.get("/experiments").status_code == 200, "the session is still there"


def test_a_token_from_another_session_is_refused(
    admin_ui: TestClient, user_ui: Callable[[UserCreds], TestClient], make_user: Callable[..., UserCreds]
) -> None:
    other = user_ui(make_user("dave", group="g2"))
    their_token = csrf_of(other.get("/experiments"))
    response = admin_ui.post("/logout", data={"csrf_token": their_token}, follow_redirects=False)
    assert response.status_code == 403


def test_logout_ends_the_session(admin_ui: TestClient) -> None:
    cookie = admin_ui.cookies.get("modelyard_session")
    csrf = csrf_of(admin_ui.get("/experiments"))
    response = admin_ui.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    admin_ui.cookies.set("modelyard_session", cookie or "")
    again = admin_ui.get("/experiments", follow_redirects=False)
    assert again.status_code == 303, "the old cookie no longer opens a page"


def test_ui_paths_take_only_the_cookie_and_api_paths_only_the_header(
    admin_ui: TestClient, admin_token: str
) -> None:
    api = admin_ui.get("/api/2.0/mlflow/experiments/search?max_results=1")
    assert api.status_code == 401, "a session cookie is no credential for the API"
    assert admin_ui.get("/experiment/api/").status_code == 401
    with TestClient(admin_ui.app) as bare:  # type: ignore[arg-type]
        page = bare.get(
            "/experiments", headers={"Authorization": f"Bearer {admin_token}"}, follow_redirects=False
        )
        assert page.status_code == 303, "a UI page does not take the Authorization header"


def test_pages_carry_the_security_headers(admin_ui: TestClient, ui: TestClient) -> None:
    for response in (admin_ui.get("/experiments"), admin_ui.get("/login", follow_redirects=False)):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    page = admin_ui.get("/experiments").text
    assert "<script>" not in page and " style=" not in page, "no inline script or style"
    assert "content-security-policy" not in ui.get("/health").headers, "API answers are left alone"


def test_an_unknown_ui_page_is_a_404_page_with_navigation(admin_ui: TestClient) -> None:
    response = admin_ui.get("/experiments/1/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<nav class="main-nav"' in response.text and "Not found" in response.text


def test_static_files_are_cached_by_content_hash(admin_ui: TestClient) -> None:
    page = admin_ui.get("/experiments").text
    css = page.split('<link rel="stylesheet" href="')[1].split('"')[0]
    assert css.startswith("/static/ui/modelyard.css?v=")
    response = admin_ui.get(css)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "immutable" in response.headers["cache-control"]
    assert admin_ui.get("/static/ui/modelyard.css").headers["cache-control"] == "no-cache"
    assert admin_ui.get("/static/ui/js/app.js").headers["content-type"].startswith("text/javascript")


def test_login_page_when_logged_in_goes_on(admin_ui: TestClient) -> None:
    response = admin_ui.get("/login?next=/experiments", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/experiments"


def test_change_password(
    ui: TestClient, services: Services, admin: Principal, make_user: Callable[..., UserCreds]
) -> None:
    erin = make_user("erin", group="g3")
    login(ui, erin.username, erin.password)
    old_cookie = ui.cookies.get("modelyard_session")

    def change(current: str, new: str, confirm: str) -> object:
        csrf = csrf_of(ui.get("/account"))
        data = {"current": current, "new": new, "confirm": confirm, "csrf_token": csrf}
        return ui.post("/account/password", data=data, follow_redirects=False)

    mismatch = change(erin.password, "new-password-1", "new-password-2")
    assert mismatch.status_code == 400 and "differ" in mismatch.text  # type: ignore[attr-defined]
    wrong = change("not-it", "new-password-1", "new-password-1")
    assert wrong.status_code == 401 and "current password is not right" in wrong.text  # type: ignore[attr-defined]
    short = change(erin.password, "short", "short")
    assert short.status_code == 400 and "at least 8 characters" in short.text  # type: ignore[attr-defined]
    done = change(erin.password, "new-password-1", "new-password-1")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "Password changed" in ui.get("/account?changed=1").text
    assert ui.cookies.get("modelyard_session") != old_cookie, "a new session for this browser"
    events, _ = services.audit.query(admin, resource_type="user", action="set_password")
    assert [(e.actor, e.resource_name) for e in events] == [("erin", "erin")]
    with TestClient(ui.app) as other:  # type: ignore[arg-type]
        other.cookies.set("modelyard_session", old_cookie or "")
        assert other.get("/account", follow_redirects=False).status_code == 303, "old sessions ended"
        login(other, "erin", "new-password-1")


def test_no_auth_mode_shows_the_system_user_and_still_checks_csrf(settings: Settings) -> None:
    open_settings = settings.model_copy(update={"auth": False})
    svc = build_services(open_settings)
    try:
        with TestClient(create_app(open_settings, svc)) as client:
            page = client.get("/experiments")
            assert page.status_code == 200
            assert "<strong data-username>system</strong>" in page.text
            assert "(no authentication)" in page.text
            assert 'action="/logout"' not in page.text
            assert client.get("/login", follow_redirects=False).status_code == 303
            refused = client.post("/account/password", data={"current": "x"}, follow_redirects=False)
            assert refused.status_code == 403
    finally:
        svc.close()


def test_a_bad_id_is_a_400_page_with_navigation(admin_ui: TestClient) -> None:
    response = admin_ui.get("/experiments/not-a-number")
    assert response.status_code == 400
    assert "Invalid experiment id &#39;not-a-number&#39;: experiment ids are integers." in response.text
    assert '<nav class="main-nav"' in response.text


def test_an_unexpected_error_is_a_500_page_with_navigation(app: FastAPI, admin_ui: TestClient) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/ui/fragments/test-broken", broken)
    response = admin_ui.get("/ui/fragments/test-broken")
    assert response.status_code == 500
    assert "Internal error; the server log has the details." in response.text
    assert "a bug" not in response.text
    assert '<nav class="main-nav"' in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_disabling_a_user_ends_their_sessions(
    services: Services,
    admin: Principal,
    make_user: Callable[..., UserCreds],
    user_ui: Callable[[UserCreds], TestClient],
) -> None:
    client = user_ui(make_user("frank", group="g4"))
    assert client.get("/experiments").status_code == 200
    services.identity.set_disabled(admin, "frank", True)
    assert client.get("/experiments", follow_redirects=False).status_code == 303


def test_an_expired_session_asks_to_log_in_again(
    services: Services, make_user: Callable[..., UserCreds], user_ui: Callable[[UserCreds], TestClient]
) -> None:
    client = user_ui(make_user("gina", group="g5"))
    with services.db.write() as s:
        s.execute(update(UiSessionRow).values(idle_expires_at=1))
    services.identity._changed()  # the cached principal too (other processes wait out its 2 s)
    response = client.get("/experiments", follow_redirects=False)
    assert response.status_code == 303
    assert "Your session has ended." in client.get(response.headers["location"]).text


def test_only_a_hash_of_the_session_id_is_stored(services: Services, admin_ui: TestClient) -> None:
    cookie = admin_ui.cookies.get("modelyard_session") or ""
    with services.db.read() as s:
        stored = list(s.scalars(select(UiSessionRow.id_hash)))
    assert len(cookie) >= 43 and cookie not in stored
    assert stored == [hashlib.sha256(cookie.encode()).hexdigest()]
