"""``client.deployments`` and ``client.quotas`` against a real server: every call once, with the values
the server answers, and the server's refusals as ModelyardError with its code and message."""

from __future__ import annotations

import re

import pytest

from modelyard.client import Client, ModelyardError
from modelyard.client.deployments import predictor_patch


def test_deployment_lifecycle(client: Client, registered: str) -> None:
    d = client.deployments.create("iris-staging", model="models:/iris/1", cpu="250m", memory="256Mi")
    assert (d["name"], d["group"], d["stage"], d["status"]["phase"]) == (
        "iris-staging",
        "default",
        "staging",
        "Deploying",
    )
    assert d["spec"]["predictors"][0]["resources"] == {"cpu": "250m", "memory": "256Mi", "gpu": 0}
    assert d["urls"]["seldon"].endswith("/deployment/iris-staging/api/v1.0/predictions")
    assert client.deployments.get("iris-staging") == client.deployments.get(d["id"])
    assert [x["name"] for x in client.deployments.list()] == ["iris-staging"]
    assert client.deployments.list([("stage", "eq", "production")]) == []

    assert client.deployments.scale("iris-staging", 2)["spec"]["predictors"][0]["replicas"] == 2
    patch = predictor_patch(
        client.deployments.get("iris-staging")["spec"], model="models:/iris/2", memory="512Mi"
    )
    assert patch == [
        {"name": "main", "model": "models:/iris/2", "resources": {"cpu": "250m", "memory": "512Mi", "gpu": 0}}
    ]
    updated = client.deployments.update("iris-staging", {"predictors": patch})
    assert updated["models"]["main"]["version"] == "2"
    assert client.deployments.stop("iris-staging")["status"]["phase"] == "Stopping"
    assert client.deployments.start("iris-staging")["spec"]["stop"] is False
    assert [e["index"] for e in client.deployments.history("iris-staging")] == [0, 1, 2, 3, 4]
    back = client.deployments.rollback("iris-staging", to=4)
    assert back["spec"]["predictors"][0]["model"] == "models:/iris/1"

    prod = client.deployments.promote(
        "iris-staging", "iris-prod", {"predictors": predictor_patch(back["spec"], replicas=3)}
    )
    assert (prod["stage"], prod["spec"]["predictors"][0]["replicas"], prod["promoted_from"]) == (
        "production",
        3,
        d["id"],
    )
    assert prod["models"]["main"]["snapshot_of"] == d["models"]["main"]["location"]

    token = client.deployments.create_token("iris-prod", "app")
    assert [t["prefix"] for t in client.deployments.tokens("iris-prod")] == [token["token"][:12]]
    assert client.deployments.revoke_token("iris-prod", token["id"]) == {"id": token["id"], "revoked": True}
    assert client.deployments.tokens("iris-prod") == []

    quick = client.deployments.deploy("models:/iris/2")
    assert (quick["name"], quick["stage"]) == ("iris-2", "staging")
    assert client.deployments.delete("iris-2")["name"] == "iris-2"
    with pytest.raises(ModelyardError) as missing:
        client.deployments.get("iris-2")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST" and missing.value.status_code == 404

    with pytest.raises(ModelyardError) as bad:
        client.deployments.create("iris-x", model="models:/iris/1", replicas=-1)
    assert bad.value.status_code == 400
    assert bad.value.message == "predictors[0].replicas: expected a whole number from 0 to 64, got -1."
    with pytest.raises(ModelyardError) as no_logs:
        client.deployments.logs("iris-prod")
    assert (no_logs.value.status_code, no_logs.value.error_code) == (503, "TEMPORARILY_UNAVAILABLE")
    polled: list[str] = []
    with pytest.raises(
        ModelyardError,
        match=re.escape(
            "is still Deploying after 0.2s: the controller has not taken up the latest change yet"
        ),
    ):
        client.deployments.wait(
            "iris-prod", timeout=0.2, poll=0.05, on_poll=lambda d: polled.append(d["name"])
        )
    assert polled and set(polled) == {"iris-prod"}


def test_quotas(client: Client, registered: str) -> None:
    client.deployments.create("iris-staging", model="models:/iris/1")
    item = client.quotas.set("default", cpu="1", memory="1Gi", deployments=1)
    assert item["quota"] == {
        "cpu": "1",
        "memory": "1Gi",
        "gpu": None,
        "deployments": 1,
        "deployments_enabled": True,
    }
    assert client.quotas.get("default")["usage"] == {
        "cpu": "500m",
        "memory": "512Mi",
        "gpu": 0,
        "deployments": 1,
    }
    assert [q["group"] for q in client.quotas.list()] == ["default"]
    with pytest.raises(ModelyardError) as refused:
        client.deployments.deploy("models:/iris/1")
    assert refused.value.status_code == 403
    assert refused.value.message == (
        "Quota exceeded in group 'default': deployments quota is 1, 1 in use, 0 left; this change needs 1 more."
    )
    assert client.quotas.set("default", deployments=None)["quota"]["deployments"] is None
