"""Group quotas under ``/quota/api/``: platform admins set them, members read them with their group's
usage, and a create, update or scale past a limit is refused naming the quota, what is in use, what is
left and what the change needs; a group with deployments disabled can only stop or delete."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.deployment_helpers import BASE, Team, create, make_team
from tests.api.identity_helpers import ok, refused
from tests.conftest import UserCreds

UNLIMITED = {"cpu": None, "memory": None, "gpu": None, "deployments": None, "deployments_enabled": True}
NOTHING = {"cpu": "0", "memory": "0Mi", "gpu": 0, "deployments": 0}


@pytest.fixture
def team(http: TestClient, make_user: Callable[..., UserCreds]) -> Team:
    return make_team(http, make_user)


def test_admins_set_quotas_members_read_them(http: TestClient, team: Team) -> None:
    assert ok(http.get("/quota/api/ds", headers=team.viewer.headers)) == {
        "group": "ds",
        "quota": UNLIMITED,
        "usage": NOTHING,
    }
    refused(
        http.put("/quota/api/ds", json={"cpu": 2}, headers=team.admin.headers),
        403,
        "Permission denied: Setting the quotas of group 'ds' needs a platform admin; 'ada' is not one.",
    )
    quota = ok(http.put("/quota/api/ds", json={"cpu": "1.5", "memory": "2Gi", "deployments": 3}))
    assert quota == {
        "group": "ds",
        "quota": {
            "cpu": "1500m",
            "memory": "2Gi",
            "gpu": None,
            "deployments": 3,
            "deployments_enabled": True,
        },
        "usage": NOTHING,
    }
    # fields left out keep their values; null removes a limit
    again = ok(http.put("/quota/api/ds", json={"memory": None, "gpu": 1}))["quota"]
    assert again == {"cpu": "1500m", "memory": None, "gpu": 1, "deployments": 3, "deployments_enabled": True}

    # members see their own groups; platform admins see all
    listed = ok(http.get("/quota/api/", headers=team.member.headers))
    assert listed["count"] == 1 and [q["group"] for q in listed["data"]] == ["ds"]
    assert [q["group"] for q in ok(http.get("/quota/api/"))["data"]] == ["default", "ds", "other"]
    refused(http.get("/quota/api/ds", headers=team.outsider.headers), 404, "group: 'ds' does not exist")
    refused(http.get("/quota/api/nope"), 404, "group: 'nope' does not exist")
    assert ok(http.get("/quota/api/_info", headers=team.member.headers))["permissions"] == [
        "can_list",
        "can_show",
    ]
    assert "can_edit" in ok(http.get("/quota/api/_info"))["permissions"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cpu": "lots"}, "quota.cpu: expected a number of cores like 0.5 or '500m', got 'lots'."),
        ({"memory": "2 GB"}, "quota.memory: expected a size like '512Mi' or '2Gi', got '2 GB'."),
        ({"gpus": 1}, "quota: unknown field(s) ['gpus']; allowed:"),
        (
            {"deployments": -1},
            "quota.deployments: expected a whole number from 0 to 2147483647 or null, got -1.",
        ),
        ({"deployments_enabled": "no"}, "quota.deployments_enabled: expected true or false."),
    ],
)
def test_bad_quotas_are_refused_naming_the_field(
    http: TestClient, team: Team, body: dict[str, object], message: str
) -> None:
    refused(http.put("/quota/api/ds", json=body), 400, message)
    assert ok(http.get("/quota/api/ds"))["quota"] == UNLIMITED


def test_changes_past_a_quota_are_refused(http: TestClient, team: Team) -> None:
    ok(http.put("/quota/api/ds", json={"cpu": 1, "memory": "1Gi", "deployments": 2}))
    create(http, team.member, "iris-a")  # 500m, 512Mi
    assert ok(http.get("/quota/api/ds"))["usage"] == {
        "cpu": "500m",
        "memory": "512Mi",
        "gpu": 0,
        "deployments": 1,
    }
    refused(
        http.post(f"{BASE}/iris-a/scale", json={"replicas": 3}, headers=team.member.headers),
        403,
        "Quota exceeded in group 'ds': cpu quota is 1, 500m in use, 500m left; this change needs 1 more.",
    )
    refused(
        http.put(
            f"{BASE}/iris-a",
            json={"predictors": [{"name": "main", "resources": {"cpu": "500m", "memory": "2Gi"}}]},
            headers=team.member.headers,
        ),
        403,
        "Quota exceeded in group 'ds': memory quota is 1Gi, 512Mi in use, 512Mi left; this change needs 1536Mi more.",
    )
    create(
        http,
        team.member,
        "iris-b",
        predictors=[{"model": "models:/iris/1", "resources": {"cpu": "250m", "memory": "256Mi"}}],
    )
    refused(
        create(http, team.member, "iris-c", 403, predictors=[{"model": "models:/iris/1", "replicas": 0}]),
        403,
        "Quota exceeded in group 'ds': deployments quota is 2, 2 in use, 0 left; this change needs 1 more.",
    )
    assert ok(http.get("/quota/api/ds"))["usage"] == {
        "cpu": "750m",
        "memory": "768Mi",
        "gpu": 0,
        "deployments": 2,
    }
    # a stopped deployment frees its CPU and memory, but still counts as a deployment
    ok(http.get(f"{BASE}/action/stop/iris-a", headers=team.member.headers))
    assert ok(http.get("/quota/api/ds"))["usage"] == {
        "cpu": "250m",
        "memory": "256Mi",
        "gpu": 0,
        "deployments": 2,
    }
    # other groups are not affected
    assert ok(http.get("/quota/api/other"))["usage"] == NOTHING


def test_deployments_disabled_for_a_group(http: TestClient, team: Team) -> None:
    create(http, team.member, "iris-a")
    ok(http.put("/quota/api/ds", json={"deployments_enabled": False}))
    disabled = "Model deployment is disabled for group 'ds'; a platform admin can enable it."
    refused(create(http, team.member, "iris-b", 403), 403, disabled)
    refused(
        http.post(f"{BASE}/deploy", json={"model": "models:/iris/1"}, headers=team.member.headers),
        403,
        disabled,
    )
    refused(
        http.post(f"{BASE}/iris-a/scale", json={"replicas": 2}, headers=team.member.headers), 403, disabled
    )
    # what runs can still be stopped and deleted, not started again
    assert ok(http.get(f"{BASE}/action/stop/iris-a", headers=team.member.headers))["spec"]["stop"] is True
    refused(http.get(f"{BASE}/action/start/iris-a", headers=team.member.headers), 403, disabled)
    ok(http.delete(f"{BASE}/iris-a", headers=team.member.headers))
    ok(http.put("/quota/api/ds", json={"deployments_enabled": True}))
    create(http, team.member, "iris-b")
