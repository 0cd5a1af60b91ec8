"""Who may choose where an experiment's artifacts go (issue 12, item 6): members only under the
configured member roots, never over another experiment's location; platform admins anywhere."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelyard.api.app import create_app
from modelyard.services import Services, build_services
from modelyard.settings import Settings
from tests.conftest import UserCreds

API = "/api/2.0/mlflow"


@pytest.fixture
def roots_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"member_artifact_roots": [str(tmp_path / "team-space"), "s3://ml/teams"]}
    )


@pytest.fixture
def roots_services(roots_settings: Settings) -> Iterator[Services]:
    svc = build_services(roots_settings)
    yield svc
    svc.close()


@pytest.fixture
def client(roots_settings: Settings, roots_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(roots_settings, roots_services), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def member(roots_services: Services) -> UserCreds:
    _, admin_token = roots_services.identity.bootstrap_admin()
    admin = roots_services.identity.authenticate_token(admin_token)
    roots_services.identity.create_group(admin, name="team-a")
    roots_services.identity.create_user(admin, username="alice", password="alice-password", group="team-a")
    _, token = roots_services.identity.create_token(admin, username="alice", name="t")
    return UserCreds("alice", token, "alice-password")


def _create(client: TestClient, who: UserCreds, name: str, location: str) -> Any:
    return client.post(
        f"{API}/experiments/create", json={"name": name, "artifact_location": location}, headers=who.headers
    )


def test_members_choose_locations_only_under_member_roots(
    client: TestClient, member: UserCreds, roots_settings: Settings, tmp_path: Path
) -> None:
    data_dir = roots_settings.data_dir
    refused = [
        "file:///etc",
        "/etc",
        str(data_dir),
        f"file://{data_dir}/artifacts",
        roots_settings.artifact_uri,
        "mlflow-artifacts:/0",
        "s3://ml/other",
        str(tmp_path / "team-space"),  # the root itself is everybody's
        "s3://ml/teams",
    ]
    for i, location in enumerate(refused):
        r = _create(client, member, f"e{i}", location)
        assert r.status_code == 403, (location, r.text)
        assert "needs a platform admin" in r.json()["message"]
    r = _create(client, member, "mine", str(tmp_path / "team-space" / "alice"))
    assert r.status_code == 200, r.text
    # nobody may then take a place inside or around it
    for location in (str(tmp_path / "team-space" / "alice" / "sub"), f"file://{tmp_path}/team-space/alice"):
        assert _create(client, member, "again", location).status_code == 403
    assert _create(client, member, "s3", "s3://ml/teams/alice/").status_code == 200
    r = _create(client, member, "dots", "s3://ml/teams/alice/../bob")
    assert r.status_code == 400 and "'..'" in r.json()["message"]


def test_the_resource_api_applies_the_same_rule(client: TestClient, member: UserCreds) -> None:
    r = client.post(
        "/experiment/api/", json={"name": "x", "artifact_location": "file:///etc"}, headers=member.headers
    )
    assert r.status_code == 403 and "needs a platform admin" in r.json()["message"], r.text


def test_platform_admins_choose_any_location(http: TestClient, make_user: Callable[..., UserCreds]) -> None:
    r = http.post(f"{API}/experiments/create", json={"name": "ops", "artifact_location": "file:///srv/ml"})
    assert r.status_code == 200, r.text
    eid = r.json()["experiment_id"]
    got = http.get(f"{API}/experiments/get", params={"experiment_id": eid}).json()["experiment"]
    assert got["artifact_location"] == "file:///srv/ml"
